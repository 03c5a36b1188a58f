actor User {}
allow(actor, action, resource) if has_permission(actor, action, resource)
has_role(u, r, x) if member(u, x);
