actor User {}
resource Repo {
  roles = ["reader"];
