actor User {}
resource Repo {
  roles = ["reader"];
  permissions = ["read"];
  "write" if "reader";
}
