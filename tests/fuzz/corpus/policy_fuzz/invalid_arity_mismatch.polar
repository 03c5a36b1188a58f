is_member(user, org) if has_membership(user, org);
can_read(user) if is_member(user);
