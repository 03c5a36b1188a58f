actor User {}
resource Repo {
  roles = ["reader", "maintainer", "reader"];
}
