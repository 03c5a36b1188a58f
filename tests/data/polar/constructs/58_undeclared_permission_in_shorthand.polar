actor User {}
resource Repository {
  roles = ["contributor"];
  "read" if "contributor";
}
