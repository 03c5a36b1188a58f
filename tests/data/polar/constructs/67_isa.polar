actor User {}
typed(x) if x isa User;
