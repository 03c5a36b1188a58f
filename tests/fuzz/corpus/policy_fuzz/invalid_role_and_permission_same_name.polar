actor User {}
resource Repo {
  roles = ["read"];
  permissions = ["read"];
}
