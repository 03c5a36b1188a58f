actor User {}
global { roles = ["admin"]; }
resource Repo {
  roles = ["reader"];
  "reader" if global "superadmin";
}
