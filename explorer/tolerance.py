"""The one tolerance policy: every float comparison that decides a sign, a count or a bound.

All geometry is float64 (unit round-off 2^-53 ≈ 1.1e-16).  A count or a bound must never hinge on a
rounding error, so each place that compares floats uses one of the four rules below; every module refers
here instead of restating them.  Tests compare the results against exact rational-arithmetic oracles.

Rule 1: a sign is decided only beyond round-off (``SIGN_TOL``)
------------------------------------------------------------
A value v is taken as zero when |v| ≤ SIGN_TOL · s, where s bounds the magnitudes it was computed from:

* region engine (:mod:`explorer.plane.regions`): a vertex v lies *on* a neuron's line when |g(v)| ≤ SIGN_TOL · s,
  where s bounds the magnitude of every term summed to obtain g(v) through all layers
  (s¹ = |w_x| X + |w_y| Y + |b| with X, Y the largest |x|, |y| of the domain; s^l = |W^l| (|σ'| s^{l-1}) + |b^l|).
  A cell is split only if it has vertices strictly on both sides; a unit is active on a cell iff some vertex
  is strictly positive.  The tolerance never decides a count: a cell in which some |g(v)| ≤ SIGN_TOL · s with
  s > 0 (float64 cannot tell the side) is enumerated again in exact rational arithmetic
  (:mod:`explorer.plane.rational`), within the time budget, or the enumeration is refused
  (PrecisionLimitError).  The network and domain are first rescaled by powers of two (exact: every row's
  largest entry and the domain's largest |x|, |y| in [1, 2)), and terms above 2^1000 or below 2^-1000 are
  refused, so s is never dominated by an overflow.  Partition queries (:mod:`explorer.plane.partition`) scale
  the same constant by the domain's size (lengths, point-in-polygon) or the largest gradient entry (equal
  output maps).
* neurons on a ball (:mod:`explorer.ball`): on the exactly rescaled ball (:class:`explorer.ball.primitives.
  ScaledBall`: rows with largest entry in [1, 2), inputs scaled down until max(‖x0‖_∞, r) < 2) and with
  τ_j = SIGN_TOL · max(1, |g'_j(x0)|), a neuron whose enclosure [lo, hi] has lo > τ is certified active on the
  ball, hi < −τ inactive, anything else may cut it; an enclosure that is a single point is a constant neuron,
  sorted by its sign (radius·norm products never underflow to a point).  Sampled and exact counts call a neuron
  cutting when it takes both signs beyond τ (the exact count also when its bit differs between regions meeting
  the ball), so k_sampled ≤ k_exact ≤ k_certified.  Every enclosure must contain the sampled values within
  SIGN_TOL times their range (a solver's that does not is dropped).  Ball samples lie within radius
  r·(1 − SIGN_TOL), strictly inside the open ball.
* stable units over a box (:mod:`explorer.count.milp`): lo ≥ τ or hi ≤ −τ, τ = SIGN_TOL·max(1, |lo|, |hi|).

Protects against: rounding (about 1e-16 · s per operation, cancellations included) deciding a sign, which
would create sliver regions or miscount degenerate networks.  Boundaries through vertices, concurrent,
duplicate, opposite or parallel neurons, zero rows and dead units therefore give exact counts.  The price:
features thinner than SIGN_TOL relative to their scale (thin regions, or any feature of a domain far larger
than the network's) cost an exact recount, or a refusal past the budget; they are never dropped.

Rule 2: solver numbers are widened before they become bounds (``SOLVER_SLACK``)
-----------------------------------------------------------------------------
HiGHS works to feasibility tolerances near 1e-6, so its numbers are loosened before a bound rests on them:
every big-M of a MILP or LP model grows to M + SOLVER_SLACK · (1 + M), and a MILP dual bound v becomes
v − SOLVER_SLACK · (1 + |v|).  (LP bounds in :mod:`explorer.ball.ballmodel` need no slack: they are rebuilt
from the duals with a rigorous float error term.)

Protects against: a big-M that LP round-off makes slightly too small cutting off a true point (and with it a
region), and a dual bound a hair above the true optimum certifying a neuron as stable.

Rule 3: a region counts when an LP proves a margin (``MARGIN_TOL``)
-----------------------------------------------------------------
A pattern or region with interior is accepted only when its margin LP (the largest t with every unit at
least t from its threshold) has t* > MARGIN_TOL · max(1, scale); the scale is the largest big-M for the MILP
confirmation, the widest box side for the LP subdivision of :mod:`explorer.count.exact`.

Protects against: counting a pattern that lives only on a face or a shared hyperplane, which a solver
working within its own tolerances would report as feasible.

Rule 4: integrality and the ε rule (``INT_TOL``)
-----------------------------------------------
INT_TOL is HiGHS's ``mip_feasibility_tolerance`` (its default).  A binary within INT_TOL of 0 or 1 lets a unit
fake activity up to H_max · INT_TOL (H_max: the largest big-M), so the strict-activity rows of a MILP use the
margin ε = max(1e-4, 10 · (H_max · INT_TOL + MARGIN_TOL)) (spec counting-and-bounds §2.3), reported with every
count.  Regions thinner than ε are missed: MILP counts then stay valid lower bounds, and the 2-D enumerator is
the reference.

Protects against: a MILP "finding" a pattern through integrality slack rather than through a point.
"""

__all__ = ["SIGN_TOL", "SOLVER_SLACK", "MARGIN_TOL", "INT_TOL"]

SIGN_TOL = 1e-9
SOLVER_SLACK = 1e-6
MARGIN_TOL = 1e-7
INT_TOL = 1e-6
