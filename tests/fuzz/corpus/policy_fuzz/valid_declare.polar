actor User {}
actor Service {}
resource Repo {}
declare is_public(Repo);
declare feature_enabled(String, Boolean);
declare member_of(Actor, Resource);
declare score(User, Integer);
