actor User {}
resource Repo {
  roles = ["reader"];
  "reader" if global "admin";
}
