actor User {}
resource Doc {}

can_edit(user: User, doc: Doc) if
  editor(user, doc) and not locked(doc);
can_view(user: User, doc: Doc) if
  viewer(user, doc) and not (banned(user) or hidden(doc));
unshared(doc: Doc) if doc_exists(doc) and not shared_with(doc, _);
nested(user: User, doc: Doc) if
  viewer(user, doc) and not (flagged(doc) and not reviewed(doc, user));
local_only(doc: Doc) if doc_exists(doc) and not (owner(doc, o) and suspended(o));
