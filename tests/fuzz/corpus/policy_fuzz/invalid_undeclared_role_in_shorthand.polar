actor User {}
resource Repo {
  roles = ["reader"];
  permissions = ["read", "push"];
  "read" if "reader";
  "push" if "maintainer";
}
