# Attributes: integer clearance levels compared with <=, and grants that
# expire (compared with @current_unix_time).
actor User {}

resource Document {
  permissions = ["read"];
}

declare clearance(User, Integer);
declare classification(Document, Integer);
declare grant_expires(User, Document, Integer);

has_permission(user: User, "read", doc: Document) if
  clearance(user, level) and
  classification(doc, required) and
  required <= level;

has_permission(user: User, "read", doc: Document) if
  grant_expires(user, doc, until) and
  @current_unix_time < until;

test "clearance must reach the classification" {
  setup {
    clearance(User{"hi"}, 3);
    clearance(User{"mid"}, 2);
    clearance(User{"lo"}, 1);
    classification(Document{"plan"}, 2);
  }
  assert allow(User{"hi"}, "read", Document{"plan"});
  assert allow(User{"mid"}, "read", Document{"plan"});
  assert_not allow(User{"lo"}, "read", Document{"plan"});
  assert_not allow(User{"nobody"}, "read", Document{"plan"});
}

test "grants expire" {
  setup {
    grant_expires(User{"tmp"}, Document{"plan"}, 4102444800);
    grant_expires(User{"old"}, Document{"plan"}, 1000);
  }
  assert allow(User{"tmp"}, "read", Document{"plan"});
  assert_not allow(User{"old"}, "read", Document{"plan"});
}
