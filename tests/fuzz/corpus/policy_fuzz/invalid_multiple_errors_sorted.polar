actor User {}
resource Repo {
  roles = ["reader", "reader"];
  permissions = ["read"];
  "write" if "reader";
  "read" if "owner";
}
