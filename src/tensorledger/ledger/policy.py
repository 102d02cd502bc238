"""Endorsement policies in Fabric's signature-policy language.

`AND('Org1MSP.peer', 'Org2MSP.peer')`, `OR(...)`, `OutOf(2, ...)`, nested,
plus the channel-level shorthands `MAJORITY` and `ANY` that Fabric's implicit
meta policies express (MAJORITY Endorsement, ANY Endorsement).
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass

from tensorledger.errors import ConfigError

ROLES = ("member", "peer", "admin", "client", "orderer")


@dataclass(frozen=True, slots=True)
class Principal:
    """One required signer: an MSP and a role within it."""

    msp_id: str
    role: str

    def matches(self, msp_id: str, role: str) -> bool:
        """Fabric's rule: 'member' is any identity of the MSP, other roles must match."""
        return self.msp_id == msp_id and self.role in {"member", role}

    def __str__(self) -> str:
        return f"'{self.msp_id}.{self.role}'"


@dataclass(frozen=True, slots=True)
class OutOf:
    """n of the sub-policies must be satisfied (AND = all, OR = 1)."""

    n: int
    rules: tuple[Rule, ...]

    def __str__(self) -> str:
        inner = ", ".join(str(r) for r in self.rules)
        if self.n == len(self.rules):
            return f"AND({inner})"
        if self.n == 1:
            return f"OR({inner})"
        return f"OutOf({self.n}, {inner})"


Rule = Principal | OutOf

_TOKEN = re.compile(r"\s*(?:(AND|OR|OutOf)\s*\(|('[^']*'|\"[^\"]*\")|(\d+)|(,)|(\)))")


#: deepest nesting of AND/OR/OutOf accepted (Fabric's configtx refuses absurd policies too)
MAX_DEPTH = 32


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.depth = 0

    def fail(self, why: str) -> ConfigError:
        return ConfigError(f"endorsement policy {self.text!r}: {why} at position {self.pos}")

    def next(self) -> re.Match[str]:
        m = _TOKEN.match(self.text, self.pos)
        if m is None:
            raise self.fail("unexpected text")
        self.pos = m.end()
        return m

    def rule(self) -> Rule:
        m = self.next()
        if m.group(2):
            return _principal(m.group(2)[1:-1], self)
        if not m.group(1):
            raise self.fail("expected AND, OR, OutOf or a quoted principal")
        op = m.group(1)
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"nested deeper than {MAX_DEPTH} levels")
        n = None
        if op == "OutOf":
            num = self.next()
            if not num.group(3):
                raise self.fail("OutOf needs a count first")
            n = int(num.group(3))
            if not self.next().group(4):
                raise self.fail("expected ','")
        rules = [self.rule()]
        while True:
            sep = self.next()
            if sep.group(5):
                break
            if not sep.group(4):
                raise self.fail("expected ',' or ')'")
            rules.append(self.rule())
        if op == "AND":
            n = len(rules)
        elif op == "OR":
            n = 1
        assert n is not None
        if not 1 <= n <= len(rules):
            raise self.fail(f"OutOf count {n} must be between 1 and {len(rules)}")
        self.depth -= 1
        return OutOf(n, tuple(rules))


def _principal(text: str, parser: _Parser) -> Principal:
    msp_id, dot, role = text.rpartition(".")
    if not dot or not msp_id or role not in ROLES:
        raise parser.fail(f"principal '{text}' must be 'MSPID.role' with role in {ROLES}")
    return Principal(msp_id, role)


def parse(text: str, channel_orgs: Sequence[str]) -> Rule:
    """Parse a policy; MAJORITY/ANY/ALL are expanded over the channel's organisations."""
    return _parse(text, tuple(channel_orgs))


@functools.lru_cache(maxsize=256)
def _parse(text: str, channel_orgs: tuple[str, ...]) -> Rule:
    # Rules are immutable, so committers validating thousands of transactions share one.
    stripped = text.strip()
    shorthand = {"MAJORITY": len(channel_orgs) // 2 + 1, "ANY": 1, "ALL": len(channel_orgs)}
    if stripped.upper() in shorthand:
        if not channel_orgs:
            raise ConfigError("a channel with no organisations has no endorsement policy")
        return OutOf(shorthand[stripped.upper()], tuple(Principal(o, "peer") for o in channel_orgs))
    parser = _Parser(stripped)
    rule = parser.rule()
    if parser.pos != len(stripped):
        raise parser.fail("trailing text")
    return rule


def principals(rule: Rule) -> list[Principal]:
    """Every principal named anywhere in the rule."""
    if isinstance(rule, Principal):
        return [rule]
    return [p for r in rule.rules for p in principals(r)]


def as_members(rule: Rule) -> Rule:
    """The same rule with every role widened to 'member' (any identity of the org)."""
    if isinstance(rule, Principal):
        return Principal(rule.msp_id, "member")
    return OutOf(rule.n, tuple(as_members(r) for r in rule.rules))


def satisfied(rule: Rule, signers: Collection[tuple[str, str]]) -> bool:
    """Whether distinct signers (msp_id, role) satisfy the rule, each signer used at most once.

    Fabric evaluates signature policies so that one signature cannot count
    twice. The search is exhaustive: every way a sub-rule can be satisfied is
    tried, which is cheap at consortium sizes.
    """
    return next(_ways(rule, tuple(signers), frozenset()), None) is not None


def _ways(
    rule: Rule, signers: tuple[tuple[str, str], ...], used: frozenset[int]
) -> Iterator[frozenset[int]]:
    """Every set of signers (as indices, on top of `used`) that satisfies `rule`."""
    if isinstance(rule, Principal):
        for i, (msp, role) in enumerate(signers):
            if i not in used and rule.matches(msp, role):
                yield used | {i}
        return
    yield from _choose(rule.rules, rule.n, signers, used)


def _choose(
    rules: tuple[Rule, ...], need: int, signers: tuple[tuple[str, str], ...], used: frozenset[int]
) -> Iterator[frozenset[int]]:
    if need == 0:
        yield used
        return
    if len(rules) < need:
        return
    first, rest = rules[0], rules[1:]
    for taken in _ways(first, signers, used):
        yield from _choose(rest, need - 1, signers, taken)
    yield from _choose(rest, need, signers, used)


def endorsing_orgs(rule: Rule, available: Sequence[str]) -> list[str]:
    """A smallest set of organisations whose peers' endorsements satisfy the rule.

    The gateway asks these peers to endorse, as Fabric's discovery service
    computes a layout from the chaincode's policy.
    """
    orgs = [o for o in dict.fromkeys(p.msp_id for p in principals(rule)) if o in available]
    for size in range(1, len(orgs) + 1):
        for combo in itertools.combinations(orgs, size):
            if satisfied(rule, [(o, "peer") for o in combo]):
                return list(combo)
    raise ConfigError(
        f"endorsement policy {rule} cannot be satisfied by organisations {list(available)}"
    )
