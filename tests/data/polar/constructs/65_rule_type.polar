actor User {}
type has_role(actor: Actor, role: String, resource: Resource);
