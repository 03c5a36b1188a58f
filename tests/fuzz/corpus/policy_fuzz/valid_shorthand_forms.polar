# Every shorthand form of DESIGN.md §3.
actor User {
  permissions = ["impersonate"];
  roles = ["support"];
  "impersonate" if "support";
  "impersonate" if global "admin";
}

global {
  roles = ["admin",];
  permissions = ["audit"];
  "audit" if "admin";
}

resource Organization {
  roles = ["member", "admin", "owner",];
  permissions = ["read", "manage"];
  "member" if "admin";
  "read" if "member";
  "manage" if "admin" or global "admin";
}

resource Project {
  roles = ["viewer", "member", "admin"];
  permissions = ["read", "write", "delete", "view"];
  relations = {
    org: Organization,
    creator: User,
  };

  role if role on "org";
  permission if "owner" on "org";
  "admin" if "creator";
  "read" if "member" on "org" and not is_private(resource);
  "view" if "viewer" or is_public(resource);
  "write" if ("member" or "admin") and not is_archived(resource);
  "delete" if "admin" and is_owner(actor, resource);
}
