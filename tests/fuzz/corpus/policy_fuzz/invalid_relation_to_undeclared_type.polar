actor User {}
resource Repo {
  roles = ["reader"];
  relations = { parent: Organizaton };
}
