actor User {}
global { roles = ["admin"]; }
global { roles = ["member"]; }
