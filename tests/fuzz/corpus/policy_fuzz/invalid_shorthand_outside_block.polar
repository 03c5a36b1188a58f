allow(actor, "read", resource) if "reader";
