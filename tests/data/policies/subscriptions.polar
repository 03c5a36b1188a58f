# Issue #16, form 1: a variable role (or permission) in a shorthand body
# under a quoted head: any role of the related resource grants the head.
actor User {}

resource Organization {
  roles = ["member", "admin"];
  permissions = ["read", "manage"];
  "member" if "admin";
  "read" if "member";
  "manage" if "admin";
}

resource Plan {
  roles = ["subscriber"];
  permissions = ["use", "configure"];
  relations = { subscribed_organization: Organization };

  # Any role on the subscribing organization makes a subscriber.
  "subscriber" if role on "subscribed_organization";
  # Any permission on it (here: read or manage) lets one use the plan.
  "use" if permission on "subscribed_organization";
  # A variable on both sides still means "the same role there".
  "configure" if "manage" on "subscribed_organization";
}

test "any role on the related organization makes a subscriber" {
  setup {
    has_relation(Plan{"pro"}, "subscribed_organization", Organization{"acme"});
    has_role(User{"alice"}, "member", Organization{"acme"});
    has_role(User{"bob"}, "admin", Organization{"acme"});
    has_role(User{"carol"}, "member", Organization{"other"});
  }
  assert has_role(User{"alice"}, "subscriber", Plan{"pro"});
  assert has_role(User{"bob"}, "subscriber", Plan{"pro"});
  assert_not has_role(User{"carol"}, "subscriber", Plan{"pro"});
  assert allow(User{"alice"}, "use", Plan{"pro"});
  assert_not allow(User{"carol"}, "use", Plan{"pro"});
  assert allow(User{"bob"}, "configure", Plan{"pro"});
  assert_not allow(User{"alice"}, "configure", Plan{"pro"});
}
