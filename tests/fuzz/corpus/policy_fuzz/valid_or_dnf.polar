actor User {}
resource Doc {}

access(u: User, d: Doc) if (a(u) or b(u)) and (c(d) or e(d, u));
either(u: User) if a(u) or b(u) or (c(u) and e(u, u));
