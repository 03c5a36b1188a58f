actor User {}
resource Repository {
  permissions = ["read"];
  "read" if "contributor";
}
