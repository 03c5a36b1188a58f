actor User {}
resource Org { roles = ["member"]; }
resource Repo {
  roles = ["reader"];
  relations = { parent: Org };
  "reader" if "admin" on "parent";
}
