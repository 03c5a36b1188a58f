# Issue #16, form 2: Resource as the abstract type of a rule parameter
# matches every declared resource and actor type (actors are resources
# too), and Actor every actor type.
actor User {
  permissions = ["impersonate"];
  "impersonate" if global "support";
}

actor Service {}

global {
  roles = ["support"];
}

resource Document {
  roles = ["reader"];
  permissions = ["read"];
  "read" if "reader";
}

allow(user: User, action: String, resource: Resource) if
  has_permission(user, action, resource);

# Any actor may read what is marked public, whatever its type.
has_permission(actor: Actor, "read", doc: Document) if is_public(doc);

test "support staff impersonate users; nobody else does" {
  setup {
    has_role(User{"alice"}, "support");
  }
  assert allow(User{"alice"}, "impersonate", User{"bob"});
  assert_not allow(User{"bob"}, "impersonate", User{"alice"});
}

test "Resource also matches resource blocks" {
  setup {
    has_role(User{"bob"}, "reader", Document{"d1"});
  }
  assert allow(User{"bob"}, "read", Document{"d1"});
  assert_not allow(User{"bob"}, "read", Document{"d2"});
}

test "Actor matches every actor type" {
  setup {
    is_public(Document{"faq"});
  }
  assert has_permission(User{"x"}, "read", Document{"faq"});
  assert has_permission(Service{"indexer"}, "read", Document{"faq"});
  assert_not has_permission(Service{"indexer"}, "read", Document{"secret"});
}
