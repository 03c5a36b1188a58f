actor User {}
resource Org {
  roles = ["member"];
}
resource Repo {
  roles = ["reader"];
  permissions = ["read"];
  relations = { org: Org };
  "read" if permission on "org";
}
