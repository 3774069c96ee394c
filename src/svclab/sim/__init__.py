"""A discrete-event simulator: virtual time, Pod lifecycles, rollouts and the traffic they see."""
