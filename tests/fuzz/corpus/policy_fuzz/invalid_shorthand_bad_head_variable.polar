actor User {}
resource Repo {
  roles = ["reader"];
  thing if "reader";
}
