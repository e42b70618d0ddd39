import duckdb
import pytest

from itbench_server.analysis.sqltext import check_regex, member_of_sql, message_sql, sql_literal, template_sql
from itbench_server.errors import QueryError
from itbench_server.snapshot.snapshot import Snapshot


def evaluate(expression: str) -> str:
    return duckdb.connect().execute(f"SELECT {expression}").fetchall()[0][0]


def template(text: str) -> str:
    return evaluate(template_sql(message_sql(sql_literal(text))))


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("GET /api/products/42 200 took 35ms", "GET /api/products/<NUM> <NUM> took <NUM>ms"),
        ("order 9b2e1c1a-3f7e-4d3b-9f5e-2a1b3c4d5e6f placed", "order <UUID> placed"),
        ("connect ECONNREFUSED 10.96.173.39:8080", "connect ECONNREFUSED 10.96.173.39:8080"),
        ("from 10.244.1.7 in 12ms", "from <IP> in <NUM>ms"),
        ("POST http://quote:8081/getquote took 5ms", "POST http://quote:8081/getquote took <NUM>ms"),
        (
            "dial tcp valkey-cart.otel-demo.svc:6379: i/o timeout",
            "dial tcp valkey-cart.otel-demo.svc:6379: i/o timeout",
        ),
        ("trace 4bf92f3577b34da6 ptr 0x7ffd", "trace <HEX> ptr <HEX>"),
        ('user "bob" logged in', 'user "<*>" logged in'),
        ("Can't reach 'cart' now", "Can't reach '<*>' now"),
        ("[2025-12-06T19:59:49.780Z] GET /", "[<TIME>] GET /"),
        ("pod ad-5d9f7c6b8-x2x9q ready", "pod ad-<HEX>-x2x9q ready"),
        (
            '{"level":50,"time":1766476993101,"msg":"Charge request error.","err":{"message":"Invalid token 7"}}',
            "Charge request error. | Invalid token <NUM>",
        ),
        ('{"level":30,"time":1}', '{"<*>":<NUM>,"<*>":<NUM>}'),
    ],
)
def test_templates_mask_the_variable_parts_of_a_message(line: str, expected: str) -> None:
    assert template(line) == expected


def test_sql_literals_escape_quotes() -> None:
    assert evaluate(sql_literal("it's")) == "it's"


def test_invalid_regular_expressions_are_refused_with_the_reason(incident: Snapshot) -> None:
    check_regex(incident, "timeout|refused")
    with pytest.raises(QueryError, match=r"'a\(b' is not a valid regular expression \(missing \): a\(b\)"):
        check_regex(incident, "a(b")


@pytest.mark.parametrize(
    ("name", "member"),
    [
        ("ad", "ad"),
        ("ad", "ad-5d9f7c6b8"),
        ("ad", "ad-5d9f7c6b8-x2x9q"),
        ("kafka", "kafka-0"),
        ("chaos-daemon", "chaos-daemon-npdq7"),
        ("ad-5d9f7c6b8", "ad-5d9f7c6b8-x2x9q"),
    ],
)
def test_workload_names_stand_for_their_replicasets_and_pods(name: str, member: str) -> None:
    assert evaluate(member_of_sql(sql_literal(member), name)) is True


@pytest.mark.parametrize(
    ("name", "other"),
    [("frontend", "frontend-proxy"), ("frontend", "frontend-proxy-d46h2czxp-6rmqt"), ("ad", "adservice-1")],
)
def test_workload_names_do_not_reach_other_workloads_sharing_a_prefix(name: str, other: str) -> None:
    assert evaluate(member_of_sql(sql_literal(other), name)) is False
