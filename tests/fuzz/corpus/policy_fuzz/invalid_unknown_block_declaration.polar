actor User {}
resource Repo {
  role = ["reader"];
}
