actor User {}
resource Repo { roles = ["reader"]; }
resource Repo { roles = ["writer"]; }
