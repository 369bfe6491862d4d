//! Read-only SPARQL 1.1 over the graph: SELECT / ASK as SPARQL JSON results, CONSTRUCT /
//! DESCRIBE as N-Triples or Turtle, with a deadline that really stops the evaluation and a cap
//! on the number of results. UPDATE (including LOAD) and SERVICE are refused before anything
//! runs; oxigraph is built without its HTTP client, so SERVICE could not reach the network
//! anyway.

use std::collections::{BTreeSet, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::time::Duration;

use oxigraph::io::{RdfFormat, RdfSerializer};
use oxigraph::model::{GraphName, GraphNameRef, Literal, NamedNode, NamedOrBlankNodeRef, Term};
use oxigraph::sparql::results::{QueryResultsFormat, QueryResultsSerializer};
use oxigraph::sparql::{QueryEvaluationError, QueryResults, SparqlEvaluator};
use oxigraph::store::{StorageError, Store};
use spareval::{InternalQuad, QueryableDataset};
use spargebra::algebra::{Expression, Function, GraphPattern};
use spargebra::term::{NamedNodePattern, TermPattern, TriplePattern, Variable};
use spargebra::{GraphUpdateOperation, Query, SparqlParser};

use crate::error::{GraphError, Result};
use crate::graph::Graph;
use crate::limits::{MAX_SPARQL_DEPTH, MAX_SPARQL_QUERY_BYTES};
use crate::stop::Stop;
use crate::vocab::{CAT, DCTERMS, GK, GKA, RECORD, SKOS, XSD};

/// Content type of SELECT and ASK answers.
pub const SPARQL_JSON: &str = "application/sparql-results+json";
/// Content type of CONSTRUCT and DESCRIBE answers in N-Triples.
pub const N_TRIPLES: &str = "application/n-triples";
/// Content type of CONSTRUCT and DESCRIBE answers in Turtle.
pub const TURTLE: &str = "text/turtle";

/// How CONSTRUCT and DESCRIBE answers are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GraphSyntax {
    #[default]
    NTriples,
    Turtle,
}

/// Runs a read-only query; graph answers in N-Triples. Returns the content type and the body.
/// See [`sparql_until`].
pub fn sparql(graph: &Graph, query: &str, timeout: Duration, result_cap: usize) -> Result<(&'static str, Vec<u8>)> {
    sparql_until(graph, query, &Stop::after(timeout), result_cap, GraphSyntax::NTriples)
}

/// [`sparql_until`] with a deadline `timeout` from now.
pub fn sparql_with_syntax(
    graph: &Graph,
    query: &str,
    timeout: Duration,
    result_cap: usize,
    syntax: GraphSyntax,
) -> Result<(&'static str, Vec<u8>)> {
    sparql_until(graph, query, &Stop::after(timeout), result_cap, syntax)
}

/// Runs a read-only query until `stop` says to stop.
///
/// - [`GraphError::Syntax`]: the text is neither a query nor an update;
/// - [`GraphError::Refused`]: an update (`INSERT`, `DELETE`, `LOAD`, `CLEAR`, ...) or a query
///   using `SERVICE`;
/// - [`GraphError::Timeout`]: not finished by the deadline — the evaluation is stopped where it
///   is (every read of the graph and every cross product checks the deadline, so property paths
///   and products stop too) and the partial answer dropped;
/// - [`GraphError::Abandoned`]: the caller gave up on the answer ([`Stop::abandon`]), handled
///   the same way;
/// - [`GraphError::ResultCapExceeded`]: more than `result_cap` solutions or triples.
///
/// Every triple pattern reads the graph as it is when that pattern is read: a query running
/// while an editor's write is applied may see the write in one pattern and not in another.
pub fn sparql_until(
    graph: &Graph,
    query: &str,
    stop: &Stop,
    result_cap: usize,
    syntax: GraphSyntax,
) -> Result<(&'static str, Vec<u8>)> {
    if query.len() > MAX_SPARQL_QUERY_BYTES {
        return Err(GraphError::InvalidArgument(format!("a SPARQL query is at most {MAX_SPARQL_QUERY_BYTES} bytes")));
    }
    if depth_exceeds(query, MAX_SPARQL_DEPTH) {
        return Err(GraphError::TooDeep { max: MAX_SPARQL_DEPTH });
    }
    let parsed = guard_query(parse_read_only(query)?);
    let alive = stop.clone();
    let evaluator = SparqlEvaluator::new().with_custom_function(NamedNode::new_unchecked(ALIVE_FUNCTION), move |_| {
        stop_if_asked(&alive);
        Some(Term::Literal(Literal::from(true)))
    });
    let store = graph.current_store()?;
    let run = AssertUnwindSafe(|| evaluate(&store, evaluator, parsed, stop, result_cap, syntax));
    match catch_unwind(run) {
        Ok(answer) => answer,
        Err(payload) if payload.is::<Stopped>() => Err(stopped(stop)),
        Err(payload) => resume_unwind(payload),
    }
}

/// The error for a query `stop` ended.
fn stopped(stop: &Stop) -> GraphError {
    if stop.is_abandoned() { GraphError::Abandoned } else { GraphError::Timeout { timeout: stop.budget() } }
}

/// Unwinds out of oxigraph's evaluation (caught in [`sparql_until`]) when the query must stop;
/// `resume_unwind` does not run the panic hook, so nothing is printed.
fn stop_if_asked(stop: &Stop) {
    if stop.should_stop() {
        resume_unwind(Box::new(Stopped));
    }
}

/// Marker carried by the unwinding that stops an evaluation.
struct Stopped;

/// A custom function the guard puts above every cross product: true while the query may run.
const ALIVE_FUNCTION: &str = "https://gridkb.invalid/ont#__queryAlive";

/// The graph as the SPARQL evaluator reads it: oxigraph's store behind a check of the [`Stop`]
/// at every read and every 64 triples read.
///
/// oxigraph's own cancellation token does not stop everything: a property path's transitive
/// closure collects the token's errors and goes on walking what it has already found (a
/// `?a (<p>|!<p>)* ?b` query ran 16 s against a 5 s deadline), and a cross product of solutions
/// already read reads nothing. Here a read past the deadline unwinds out of the evaluation
/// wherever it is; the cross products are covered by [`ALIVE_FUNCTION`].
struct StoppableStore<'a> {
    store: &'a Store,
    stop: Stop,
}

impl<'a> QueryableDataset<'a> for StoppableStore<'a> {
    type InternalTerm = Term;
    type Error = StorageError;

    fn internal_quads_for_pattern(
        &self,
        subject: Option<&Term>,
        predicate: Option<&Term>,
        object: Option<&Term>,
        graph_name: Option<Option<&Term>>,
    ) -> impl Iterator<Item = std::result::Result<InternalQuad<Term>, StorageError>> + use<'a> {
        stop_if_asked(&self.stop);
        // A literal subject, a predicate that is not an IRI or a literal graph name matches nothing.
        let subject_ref = match subject {
            None => Some(None),
            Some(Term::NamedNode(n)) => Some(Some(NamedOrBlankNodeRef::from(n.as_ref()))),
            Some(Term::BlankNode(b)) => Some(Some(NamedOrBlankNodeRef::from(b.as_ref()))),
            Some(_) => None,
        };
        let predicate_ref = match predicate {
            None => Some(None),
            Some(Term::NamedNode(n)) => Some(Some(n.as_ref())),
            Some(_) => None,
        };
        // `None` asks for every named graph, not the default one; the store's `None` is every graph.
        let (graph_ref, named_only) = match graph_name {
            None => (Some(None), true),
            Some(None) => (Some(Some(GraphNameRef::DefaultGraph)), false),
            Some(Some(Term::NamedNode(n))) => (Some(Some(GraphNameRef::NamedNode(n.as_ref()))), false),
            Some(Some(Term::BlankNode(b))) => (Some(Some(GraphNameRef::BlankNode(b.as_ref()))), false),
            Some(Some(_)) => (None, false),
        };
        let quads = match (subject_ref, predicate_ref, graph_ref) {
            (Some(s), Some(p), Some(g)) => Some(self.store.quads_for_pattern(s, p, object.map(Term::as_ref), g)),
            _ => None,
        };
        let stop = self.stop.clone();
        let mut read = 0u32;
        quads
            .into_iter()
            .flatten()
            .filter(move |quad| !named_only || quad.as_ref().map_or(true, |q| !q.graph_name.is_default_graph()))
            .map(move |quad| {
                read = read.wrapping_add(1);
                if read.is_multiple_of(64) {
                    stop_if_asked(&stop);
                }
                let quad = quad?;
                Ok(InternalQuad {
                    subject: quad.subject.into(),
                    predicate: quad.predicate.into(),
                    object: quad.object,
                    graph_name: match quad.graph_name {
                        GraphName::NamedNode(n) => Some(n.into()),
                        GraphName::BlankNode(b) => Some(b.into()),
                        GraphName::DefaultGraph => None,
                    },
                })
            })
    }

    fn internalize_term(&self, term: Term) -> std::result::Result<Term, StorageError> {
        Ok(term)
    }

    fn externalize_term(&self, term: Term) -> std::result::Result<Term, StorageError> {
        Ok(term)
    }
}

fn evaluate(
    store: &Store,
    evaluator: SparqlEvaluator,
    parsed: Query,
    stop: &Stop,
    result_cap: usize,
    syntax: GraphSyntax,
) -> Result<(&'static str, Vec<u8>)> {
    let dataset = StoppableStore { store, stop: stop.clone() };
    let failed = |e: QueryEvaluationError| match e {
        QueryEvaluationError::Cancelled => stopped(stop),
        other => GraphError::Evaluation(other.to_string()),
    };
    let results = evaluator.for_query(parsed).on_queryable_dataset(dataset).execute().map_err(failed)?;
    let check_stop = || if stop.should_stop() { Err(stopped(stop)) } else { Ok(()) };
    match results {
        QueryResults::Boolean(value) => {
            check_stop()?;
            let body = QueryResultsSerializer::from_format(QueryResultsFormat::Json)
                .serialize_boolean_to_writer(Vec::new(), value)
                .map_err(io_error)?;
            Ok((SPARQL_JSON, body))
        }
        QueryResults::Solutions(solutions) => {
            let mut writer = QueryResultsSerializer::from_format(QueryResultsFormat::Json)
                .serialize_solutions_to_writer(Vec::new(), solutions.variables().to_vec())
                .map_err(io_error)?;
            let mut count = 0usize;
            for solution in solutions {
                let solution = solution.map_err(failed)?;
                check_stop()?;
                count += 1;
                if count > result_cap {
                    return Err(GraphError::ResultCapExceeded { cap: result_cap });
                }
                writer.serialize(&solution).map_err(io_error)?;
            }
            Ok((SPARQL_JSON, writer.finish().map_err(io_error)?))
        }
        QueryResults::Graph(triples) => {
            let (format, content_type) = match syntax {
                GraphSyntax::NTriples => (RdfFormat::NTriples, N_TRIPLES),
                GraphSyntax::Turtle => (RdfFormat::Turtle, TURTLE),
            };
            let mut serializer = RdfSerializer::from_format(format);
            if syntax == GraphSyntax::Turtle {
                for (prefix, iri) in [
                    ("gk", GK),
                    ("gka", GKA),
                    ("cat", CAT),
                    ("r", RECORD),
                    ("skos", SKOS),
                    ("dcterms", DCTERMS),
                    ("xsd", XSD),
                ] {
                    serializer = serializer
                        .with_prefix(prefix, iri)
                        .map_err(|e| GraphError::Internal(format!("prefix {prefix}: {e}")))?;
                }
            }
            let mut writer = serializer.for_writer(Vec::new());
            let mut count = 0usize;
            for triple in triples {
                let triple = triple.map_err(failed)?;
                check_stop()?;
                count += 1;
                if count > result_cap {
                    return Err(GraphError::ResultCapExceeded { cap: result_cap });
                }
                writer.serialize_triple(&triple).map_err(io_error)?;
            }
            Ok((content_type, writer.finish().map_err(io_error)?))
        }
    }
}

fn io_error(e: std::io::Error) -> GraphError {
    GraphError::Internal(format!("writing SPARQL results: {e}"))
}

/// Parses a query, telling updates and SERVICE apart from syntax errors.
fn parse_read_only(text: &str) -> Result<Query> {
    let query = match SparqlParser::new().parse_query(text) {
        Ok(query) => query,
        Err(query_error) => {
            return Err(match SparqlParser::new().parse_update(text) {
                Ok(update) => {
                    let load = update.operations.iter().any(|op| matches!(op, GraphUpdateOperation::Load { .. }));
                    GraphError::Refused { what: if load { "LOAD" } else { "UPDATE" } }
                }
                Err(_) => GraphError::Syntax(query_error.to_string()),
            });
        }
    };
    let pattern = match &query {
        Query::Select { pattern, .. }
        | Query::Construct { pattern, .. }
        | Query::Describe { pattern, .. }
        | Query::Ask { pattern, .. } => pattern,
    };
    if uses_service(pattern) {
        return Err(GraphError::Refused { what: "SERVICE" });
    }
    Ok(query)
}

/// Whether a pattern, or any pattern nested in it (including inside `EXISTS`), is a SERVICE.
fn uses_service(pattern: &GraphPattern) -> bool {
    match pattern {
        GraphPattern::Service { .. } => true,
        GraphPattern::Bgp { .. } | GraphPattern::Path { .. } | GraphPattern::Values { .. } => false,
        GraphPattern::Join { left, right }
        | GraphPattern::Union { left, right }
        | GraphPattern::Minus { left, right }
        | GraphPattern::Lateral { left, right } => uses_service(left) || uses_service(right),
        GraphPattern::LeftJoin { left, right, expression } => {
            uses_service(left) || uses_service(right) || expression.as_ref().is_some_and(expression_uses_service)
        }
        GraphPattern::Filter { expr, inner } => expression_uses_service(expr) || uses_service(inner),
        GraphPattern::Extend { inner, expression, .. } => uses_service(inner) || expression_uses_service(expression),
        GraphPattern::OrderBy { inner, expression } => {
            uses_service(inner)
                || expression.iter().any(|order| match order {
                    spargebra::algebra::OrderExpression::Asc(e) | spargebra::algebra::OrderExpression::Desc(e) => {
                        expression_uses_service(e)
                    }
                })
        }
        GraphPattern::Group { inner, aggregates, .. } => {
            uses_service(inner)
                || aggregates.iter().any(|(_, aggregate)| match aggregate {
                    spargebra::algebra::AggregateExpression::FunctionCall { expr, .. } => expression_uses_service(expr),
                    spargebra::algebra::AggregateExpression::CountSolutions { .. } => false,
                })
        }
        GraphPattern::Graph { inner, .. }
        | GraphPattern::Project { inner, .. }
        | GraphPattern::Distinct { inner }
        | GraphPattern::Reduced { inner }
        | GraphPattern::Slice { inner, .. } => uses_service(inner),
    }
}

fn expression_uses_service(expression: &Expression) -> bool {
    match expression {
        Expression::Exists(pattern) => uses_service(pattern),
        Expression::Or(a, b)
        | Expression::And(a, b)
        | Expression::Equal(a, b)
        | Expression::SameTerm(a, b)
        | Expression::Greater(a, b)
        | Expression::GreaterOrEqual(a, b)
        | Expression::Less(a, b)
        | Expression::LessOrEqual(a, b)
        | Expression::Add(a, b)
        | Expression::Subtract(a, b)
        | Expression::Multiply(a, b)
        | Expression::Divide(a, b) => expression_uses_service(a) || expression_uses_service(b),
        Expression::UnaryPlus(a) | Expression::UnaryMinus(a) | Expression::Not(a) => expression_uses_service(a),
        Expression::If(a, b, c) => {
            expression_uses_service(a) || expression_uses_service(b) || expression_uses_service(c)
        }
        Expression::In(a, list) => expression_uses_service(a) || list.iter().any(expression_uses_service),
        Expression::Coalesce(list) | Expression::FunctionCall(_, list) => list.iter().any(expression_uses_service),
        Expression::NamedNode(_) | Expression::Literal(_) | Expression::Variable(_) | Expression::Bound(_) => false,
    }
}

/// Puts an "is the query still alive" filter above every cross product of the query.
///
/// oxigraph checks its cancellation token when it reads the store, but a cross product of
/// already-read solutions (`{ ?a ?b ?c . ?d ?e ?f . ... }` under a `COUNT`) can run for hours
/// without reading anything. Each basic graph pattern is split into its connected components
/// (patterns sharing a variable or blank node), joined left to right, and every join of parts
/// that share no variable — and every such explicit join — gets
/// `FILTER(alive(COALESCE(?v, true), ...))` over all its variables, so the filter cannot be
/// pushed below the product and runs once per solution it produces. The filter is always true;
/// once the deadline passes it stops the evaluation.
fn guard_query(query: Query) -> Query {
    match query {
        Query::Select { dataset, pattern, base_iri } => Query::Select { dataset, pattern: guard(pattern), base_iri },
        Query::Construct { template, dataset, pattern, base_iri } => {
            Query::Construct { template, dataset, pattern: guard(pattern), base_iri }
        }
        Query::Describe { dataset, pattern, base_iri } => {
            Query::Describe { dataset, pattern: guard(pattern), base_iri }
        }
        Query::Ask { dataset, pattern, base_iri } => Query::Ask { dataset, pattern: guard(pattern), base_iri },
    }
}

fn in_scope(pattern: &GraphPattern) -> BTreeSet<Variable> {
    let mut variables = BTreeSet::new();
    pattern.on_in_scope_variable(|v| {
        variables.insert(v.clone());
    });
    variables
}

fn alive_filter(inner: GraphPattern) -> GraphPattern {
    let arguments = in_scope(&inner)
        .into_iter()
        .map(|v| Expression::Coalesce(vec![Expression::Variable(v), Expression::Literal(true.into())]))
        .collect();
    GraphPattern::Filter {
        expr: Expression::FunctionCall(Function::Custom(NamedNode::new_unchecked(ALIVE_FUNCTION)), arguments),
        inner: Box::new(inner),
    }
}

fn boxed(mut pattern: Box<GraphPattern>) -> Box<GraphPattern> {
    let inner = std::mem::replace(&mut *pattern, GraphPattern::Bgp { patterns: Vec::new() });
    *pattern = guard(inner);
    pattern
}

fn guard(pattern: GraphPattern) -> GraphPattern {
    match pattern {
        GraphPattern::Bgp { patterns } => guard_bgp(patterns),
        GraphPattern::Join { left, right } => {
            let (left, right) = (guard(*left), guard(*right));
            let disjoint = in_scope(&left).is_disjoint(&in_scope(&right));
            let join = GraphPattern::Join { left: Box::new(left), right: Box::new(right) };
            if disjoint { alive_filter(join) } else { join }
        }
        GraphPattern::LeftJoin { left, right, expression } => {
            GraphPattern::LeftJoin { left: boxed(left), right: boxed(right), expression }
        }
        GraphPattern::Lateral { left, right } => GraphPattern::Lateral { left: boxed(left), right: boxed(right) },
        GraphPattern::Filter { expr, inner } => GraphPattern::Filter { expr, inner: boxed(inner) },
        GraphPattern::Union { left, right } => GraphPattern::Union { left: boxed(left), right: boxed(right) },
        GraphPattern::Graph { name, inner } => GraphPattern::Graph { name, inner: boxed(inner) },
        GraphPattern::Extend { inner, variable, expression } => {
            GraphPattern::Extend { inner: boxed(inner), variable, expression }
        }
        GraphPattern::Minus { left, right } => GraphPattern::Minus { left: boxed(left), right: boxed(right) },
        GraphPattern::OrderBy { inner, expression } => GraphPattern::OrderBy { inner: boxed(inner), expression },
        GraphPattern::Project { inner, variables } => GraphPattern::Project { inner: boxed(inner), variables },
        GraphPattern::Distinct { inner } => GraphPattern::Distinct { inner: boxed(inner) },
        GraphPattern::Reduced { inner } => GraphPattern::Reduced { inner: boxed(inner) },
        GraphPattern::Slice { inner, start, length } => GraphPattern::Slice { inner: boxed(inner), start, length },
        GraphPattern::Group { inner, variables, aggregates } => {
            GraphPattern::Group { inner: boxed(inner), variables, aggregates }
        }
        GraphPattern::Service { name, inner, silent } => GraphPattern::Service { name, inner: boxed(inner), silent },
        other @ (GraphPattern::Path { .. } | GraphPattern::Values { .. }) => other,
    }
}

/// Names a triple pattern joins on: its variables and blank nodes.
fn join_names(pattern: &TriplePattern) -> Vec<String> {
    let mut names = Vec::new();
    for term in [&pattern.subject, &pattern.object] {
        match term {
            TermPattern::Variable(v) => names.push(format!("?{}", v.as_str())),
            TermPattern::BlankNode(b) => names.push(format!("_:{}", b.as_str())),
            _ => {}
        }
    }
    if let NamedNodePattern::Variable(v) = &pattern.predicate {
        names.push(format!("?{}", v.as_str()));
    }
    names
}

/// Splits a basic graph pattern into connected components and joins them, guarding each join.
fn guard_bgp(patterns: Vec<TriplePattern>) -> GraphPattern {
    // Union-find over pattern indices, merging patterns that share a name.
    let mut parent: Vec<usize> = (0..patterns.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut owner: HashMap<String, usize> = HashMap::new();
    for (i, pattern) in patterns.iter().enumerate() {
        for name in join_names(pattern) {
            match owner.get(&name) {
                Some(&j) => {
                    let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                    parent[a] = b;
                }
                None => {
                    owner.insert(name, i);
                }
            }
        }
    }
    let mut components: Vec<(usize, Vec<TriplePattern>)> = Vec::new();
    for (i, pattern) in patterns.into_iter().enumerate() {
        let r = root(&mut parent, i);
        match components.iter_mut().find(|(root, _)| *root == r) {
            Some((_, members)) => members.push(pattern),
            None => components.push((r, vec![pattern])),
        }
    }
    let mut parts = components.into_iter().map(|(_, patterns)| GraphPattern::Bgp { patterns });
    let Some(first) = parts.next() else { return GraphPattern::Bgp { patterns: Vec::new() } };
    parts.fold(first, |joined, part| alive_filter(GraphPattern::Join { left: Box::new(joined), right: Box::new(part) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(text: &str) -> Option<&'static str> {
        match parse_read_only(text) {
            Err(GraphError::Refused { what }) => Some(what),
            _ => None,
        }
    }

    #[test]
    fn updates_load_and_service_are_refused() {
        assert_eq!(refusal("INSERT DATA { <http://a> <http://b> <http://c> }"), Some("UPDATE"));
        assert_eq!(refusal("DELETE WHERE { ?s ?p ?o }"), Some("UPDATE"));
        assert_eq!(refusal("CLEAR ALL"), Some("UPDATE"));
        assert_eq!(refusal("LOAD <http://example.com/data.ttl>"), Some("LOAD"));
        assert_eq!(refusal("SELECT * WHERE { SERVICE <http://example.com/sparql> { ?s ?p ?o } }"), Some("SERVICE"));
        assert_eq!(
            refusal("SELECT * WHERE { ?s ?p ?o FILTER EXISTS { SERVICE SILENT <http://x> { ?s ?p ?o } } }"),
            Some("SERVICE")
        );
        assert_eq!(refusal("ASK { { ?s ?p ?o } UNION { SERVICE <http://x> { ?s ?p ?o } } }"), Some("SERVICE"));
        assert!(parse_read_only("SELECT * WHERE { ?s ?p ?o } LIMIT 1").is_ok());
        assert!(matches!(parse_read_only("SELEC nonsense"), Err(GraphError::Syntax(_))));
    }

    fn guarded(text: &str) -> String {
        guard_query(parse_read_only(text).expect("query")).to_string()
    }

    #[test]
    fn cross_products_are_guarded_and_connected_patterns_are_not() {
        let connected = guarded("SELECT * WHERE { ?a <http://p> ?b . ?b <http://q> ?c }");
        assert!(!connected.contains("__queryAlive"), "{connected}");
        let product = guarded("SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }");
        assert_eq!(product.matches("__queryAlive").count(), 2, "{product}");
        let blank = guarded("SELECT * WHERE { ?a <http://p> _:x . _:x <http://q> ?c }");
        assert!(!blank.contains("__queryAlive"), "{blank}");
    }
}

/// True when `{`, `(` and `[` outside string literals and comments nest deeper than `max`.
/// Conservative: whatever it cannot place (a bracket in an IRI, a `#` not after whitespace) counts
/// as code, which can only refuse a query, never let a deep one through to the parser.
fn depth_exceeds(query: &str, max: usize) -> bool {
    let chars: Vec<char> = query.chars().collect();
    let tripled = |i: usize, c: char| chars.get(i + 1) == Some(&c) && chars.get(i + 2) == Some(&c);
    let mut depth = 0usize;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            // A string: 'short', "short", '''long''' or """long""", with backslash escapes.
            '"' | '\'' => {
                let long = tripled(i, c);
                i += if long { 3 } else { 1 };
                while i < chars.len() {
                    if chars[i] == '\\' {
                        i += 2;
                    } else if chars[i] == c && (!long || tripled(i, c)) {
                        i += if long { 3 } else { 1 };
                        break;
                    } else {
                        i += 1;
                    }
                }
                continue;
            }
            // An IRI (or a less-than): quotes inside it start no string; brackets still count.
            '<' => {
                i += 1;
                while i < chars.len() && !chars[i].is_whitespace() && chars[i] != '>' {
                    if matches!(chars[i], '{' | '(' | '[') {
                        depth += 1;
                        if depth > max {
                            return true;
                        }
                    }
                    i += 1;
                }
                continue;
            }
            // A comment after whitespace runs to the end of the line.
            '#' if i == 0 || chars[i - 1].is_whitespace() => {
                while i < chars.len() && chars[i] != '\n' && chars[i] != '\r' {
                    i += 1;
                }
                continue;
            }
            '{' | '(' | '[' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            '}' | ')' | ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    false
}

#[cfg(test)]
mod depth_tests {
    use super::*;

    #[test]
    fn depth_counts_brackets_outside_strings_and_comments() {
        let query = "SELECT * WHERE { ?s ?p ?o FILTER((?o > 1) && (?o < 5)) OPTIONAL { ?s <urn:x#y> [ <urn:p> ?q ] } }";
        assert!(!depth_exceeds(query, 3));
        assert!(depth_exceeds(query, 2));
        assert!(!depth_exceeds(r#"ASK { ?s ?p "((((((\"((((" }"#, 1));
        assert!(!depth_exceeds("ASK { ?s ?p ?o } # ((((((((\n", 1));
        assert!(!depth_exceeds("ASK { ?s ?p 'it''s ((((' }", 1));
        assert!(depth_exceeds(&"{".repeat(5_000), MAX_SPARQL_DEPTH));
        // What would hide brackets from a naive scanner: a quote in an IRI, a quote in a long string.
        let deep = "(".repeat(40);
        assert!(depth_exceeds(&format!("ASK {{ <urn:it's> ?p ?o FILTER{deep} }}"), MAX_SPARQL_DEPTH));
        assert!(depth_exceeds(&format!("ASK {{ ?s ?p '''a'b''' FILTER{deep} }}"), MAX_SPARQL_DEPTH));
        assert!(depth_exceeds(&format!(r#"ASK {{ ?s ?p "a\"" FILTER{deep} }}"#), MAX_SPARQL_DEPTH));
        assert!(!depth_exceeds("ASK { ?s ?p ?o FILTER(?o<3) }", 2));
    }
}
