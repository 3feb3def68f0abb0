//! Label selectors: apimachinery's `labels.Parse` string syntax (the `labelSelector` query
//! parameter), typed `metav1.LabelSelector`s (Deployments, ReplicaSets, NetworkPolicies, ...)
//! and plain maps (Service selectors), all turned into kube-core's [`Selector`].
//!
//! The lexer and parser follow apimachinery's state machine token for token, so the same inputs
//! are accepted, the same quirks survive (`in ()` means "the empty value", `x in (a,,)` is an
//! error, a NUL byte ends a token) and errors carry the same text.
//!
//! Must not: match anything (kube-core's `SelectorExt` does), or know about fields or objects.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube_core::{Expression, Selector};

use super::{SelectorError, go_quote};

/// Parses a `labelSelector` query parameter; the empty string selects everything.
pub fn parse_label_selector(input: &str) -> Result<Selector, SelectorError> {
    let mut requirements = Parser::new(input).parse()?;
    // apimachinery sorts by key so a selector renders deterministically.
    requirements.sort_by(|a, b| a.key.cmp(&b.key));
    let mut expressions = Vec::with_capacity(requirements.len());
    let mut unsupported = None;
    for requirement in requirements {
        match requirement.into_expression() {
            Ok(expression) => expressions.push(expression),
            Err(error) => {
                unsupported.get_or_insert(error);
            }
        }
    }
    match unsupported {
        Some(error) => Err(error),
        None => Ok(expressions.into_iter().collect()),
    }
}

/// Converts a non-nil typed `LabelSelector` like `metav1.LabelSelectorAsSelector`.
///
/// An empty `LabelSelector` selects everything. A *nil* one (an absent `Option`) selects
/// nothing in apiserver; kube-core cannot express that, so callers holding
/// `Option<LabelSelector>` must treat `None` as "matches no object" themselves.
pub fn from_label_selector(selector: &LabelSelector) -> Result<Selector, SelectorError> {
    let mut requirements = Vec::new();
    // Go walks matchLabels in random map order; sorted order keeps the reported error stable.
    for (key, value) in selector.match_labels.iter().flatten() {
        requirements.push(
            Requirement::new(key.clone(), Operator::Equals, vec![value.clone()])
                .map_err(SelectorError::InvalidLabelSelector)?,
        );
    }
    for expression in selector.match_expressions.iter().flatten() {
        let operator = match expression.operator.as_str() {
            "In" => Operator::In,
            "NotIn" => Operator::NotIn,
            "Exists" => Operator::Exists,
            "DoesNotExist" => Operator::DoesNotExist,
            other => {
                return Err(SelectorError::InvalidLabelSelectorOperator(
                    other.to_owned(),
                ));
            }
        };
        let values = expression.values.clone().unwrap_or_default();
        requirements.push(
            Requirement::new(expression.key.clone(), operator, values)
                .map_err(SelectorError::InvalidLabelSelector)?,
        );
    }
    requirements.sort_by(|a, b| a.key.cmp(&b.key));
    requirements
        .into_iter()
        .map(Requirement::into_expression)
        .collect()
}

/// A selector requiring every `key=value` of the map, like `labels.SelectorFromSet`.
///
/// Nothing is validated (the map was validated when its object was stored) and an empty map
/// selects everything; a Service with an empty selector selects no Pods, which is the
/// caller's rule to apply, not this function's.
pub fn from_map(labels: &BTreeMap<String, String>) -> Selector {
    labels
        .iter()
        .map(|(key, value)| Expression::Equal(key.clone(), value.clone()))
        .collect()
}

/// What went wrong inside one requirement; shown after `unable to parse requirement: `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequirementError {
    /// The parser met a token it did not expect.
    #[error("found '{found}', expected: {expected}")]
    Unexpected {
        /// The token met (empty at end of string).
        found: String,
        /// What apimachinery wanted instead.
        expected: &'static str,
    },
    /// `in`/`notin` not followed by `(`; apimachinery words this one without a comma.
    #[error("found '{found}' expected: '('")]
    MissingOpenParen {
        /// The token met instead of `(`.
        found: String,
    },
    /// The key, a value or the value count failed validation.
    #[error("{0}")]
    Invalid(InvalidValues),
}

/// The offending value inside an [`InvalidValue`], printed as Go's `%q` or `%#v` would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadValue {
    /// A single key or value.
    Text(String),
    /// A whole value list (from a typed `LabelSelector`).
    List(Vec<String>),
}

impl fmt::Display for BadValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadValue::Text(text) => f.write_str(&go_quote(text)),
            // apimachinery copies the values with append([]string(nil), ...), so an empty list
            // is a nil slice.
            BadValue::List(values) if values.is_empty() => f.write_str("[]string(nil)"),
            BadValue::List(values) => {
                let quoted: Vec<String> = values.iter().map(|v| go_quote(v)).collect();
                write!(f, "[]string{{{}}}", quoted.join(", "))
            }
        }
    }
}

/// One apimachinery `field.Invalid` error: `<path>: Invalid value: <value>: <detail>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: Invalid value: {value}: {detail}")]
pub struct InvalidValue {
    /// apimachinery's field path (`<nil>` for a key met by the string parser).
    pub path: String,
    /// The rejected key, value or value list.
    pub value: BadValue,
    /// The validation messages, joined with `; `.
    pub detail: String,
}

/// apimachinery's aggregate of validation errors: one message alone, several as `[a, b]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidValues(Vec<InvalidValue>);

impl InvalidValues {
    /// Aggregates errors, dropping repeated messages; `None` when there are none.
    fn new(errors: Vec<InvalidValue>) -> Option<Self> {
        let mut seen = BTreeSet::new();
        let unique: Vec<InvalidValue> = errors
            .into_iter()
            .filter(|error| seen.insert(error.to_string()))
            .collect();
        (!unique.is_empty()).then_some(Self(unique))
    }

    /// The individual errors, in apimachinery's order.
    pub fn errors(&self) -> &[InvalidValue] {
        &self.0
    }
}

impl fmt::Display for InvalidValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [single] => write!(f, "{single}"),
            many => {
                let messages: Vec<String> = many.iter().map(ToString::to_string).collect();
                write!(f, "[{}]", messages.join(", "))
            }
        }
    }
}

impl std::error::Error for InvalidValues {}

/// apimachinery's `selection.Operator`s that a label requirement can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    In,
    NotIn,
    Equals,
    DoubleEquals,
    NotEquals,
    Exists,
    DoesNotExist,
    GreaterThan,
    LessThan,
}

/// A validated requirement, still in apimachinery's shape.
#[derive(Debug)]
struct Requirement {
    key: String,
    operator: Operator,
    values: Vec<String>,
}

impl Requirement {
    /// Validates like `labels.NewRequirement` with a nil path.
    fn new(key: String, operator: Operator, values: Vec<String>) -> Result<Self, InvalidValues> {
        let mut errors = Vec::new();
        let key_errors = qualified_name_errors(&key);
        if !key_errors.is_empty() {
            errors.push(InvalidValue {
                path: "key".into(),
                value: BadValue::Text(key.clone()),
                detail: key_errors.join("; "),
            });
        }
        // Equality operators always arrive with exactly one value and comparisons only come
        // from the string parser with one value, so apimachinery's count checks for them
        // cannot fire here.
        match operator {
            Operator::In | Operator::NotIn if values.is_empty() => errors.push(InvalidValue {
                path: "values".into(),
                value: BadValue::List(values.clone()),
                detail: "for 'in', 'notin' operators, values set can't be empty".into(),
            }),
            Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
                errors.push(InvalidValue {
                    path: "values".into(),
                    value: BadValue::List(values.clone()),
                    detail: "values set must be empty for exists and does not exist".into(),
                });
            }
            Operator::GreaterThan | Operator::LessThan => {
                for (index, value) in values.iter().enumerate() {
                    if value.parse::<i64>().is_err() {
                        errors.push(InvalidValue {
                            path: format!("values[{index}]"),
                            value: BadValue::Text(value.clone()),
                            detail: "for 'Gt', 'Lt' operators, the value must be an integer".into(),
                        });
                    }
                }
            }
            _ => {}
        }
        for (index, value) in values.iter().enumerate() {
            let value_errors = label_value_errors(value);
            if !value_errors.is_empty() {
                errors.push(InvalidValue {
                    path: format!("values[{index}][{key}]"),
                    value: BadValue::Text(value.clone()),
                    detail: value_errors.join("; "),
                });
            }
        }
        match InvalidValues::new(errors) {
            Some(errors) => Err(errors),
            None => Ok(Self {
                key,
                operator,
                values,
            }),
        }
    }

    fn into_expression(self) -> Result<Expression, SelectorError> {
        let Requirement {
            key,
            operator,
            values,
        } = self;
        let single = || values.first().cloned().unwrap_or_default();
        Ok(match operator {
            Operator::In => Expression::In(key, values.into_iter().collect()),
            Operator::NotIn => Expression::NotIn(key, values.into_iter().collect()),
            Operator::Equals | Operator::DoubleEquals => Expression::Equal(key, single()),
            Operator::NotEquals => Expression::NotEqual(key, single()),
            Operator::Exists => Expression::Exists(key),
            Operator::DoesNotExist => Expression::DoesNotExist(key),
            Operator::GreaterThan | Operator::LessThan => {
                let symbol = if operator == Operator::GreaterThan {
                    ">"
                } else {
                    "<"
                };
                return Err(SelectorError::UnsupportedLabelOperator {
                    requirement: format!("{key}{symbol}{}", single()),
                    operator: symbol,
                });
            }
        })
    }
}

const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const QUALIFIED_NAME_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const QUALIFIED_NAME_MAX_LEN: usize = 63;
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_MAX_LEN: usize = 63;
const DNS1123_SUBDOMAIN_FMT: &str =
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_MAX_LEN: usize = 253;

/// apimachinery's `validation.RegexError` wording.
fn regex_error(message: &str, format: &str, examples: &[&str]) -> String {
    let examples: Vec<String> = examples.iter().map(|e| format!("'{e}', ")).collect();
    format!(
        "{message} (e.g. {}regex used for validation is '{format}')",
        examples.join(" or ")
    )
}

fn max_len_error(length: usize) -> String {
    format!("must be no more than {length} characters")
}

/// `^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`
fn is_qualified_name_part(part: &str) -> bool {
    let bytes = part.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// `^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
fn is_dns1123_subdomain(value: &str) -> bool {
    let is_label_end = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    value.split('.').all(|label| {
        let bytes = label.as_bytes();
        match (bytes.first(), bytes.last()) {
            (Some(first), Some(last)) => {
                is_label_end(first)
                    && is_label_end(last)
                    && bytes.iter().all(|b| is_label_end(b) || *b == b'-')
            }
            _ => false,
        }
    })
}

/// apimachinery's `validation.IsQualifiedName`: the messages, empty when valid.
fn qualified_name_errors(value: &str) -> Vec<String> {
    let name_regex_error = || {
        regex_error(
            QUALIFIED_NAME_MSG,
            QUALIFIED_NAME_FMT,
            &["MyName", "my.name", "123-abc"],
        )
    };
    let mut errors = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errors.push("prefix part must be non-empty".to_owned());
            } else {
                if prefix.len() > DNS1123_SUBDOMAIN_MAX_LEN {
                    errors.push(format!(
                        "prefix part {}",
                        max_len_error(DNS1123_SUBDOMAIN_MAX_LEN)
                    ));
                }
                if !is_dns1123_subdomain(prefix) {
                    errors.push(format!(
                        "prefix part {}",
                        regex_error(
                            DNS1123_SUBDOMAIN_MSG,
                            DNS1123_SUBDOMAIN_FMT,
                            &["example.com"]
                        )
                    ));
                }
            }
            *name
        }
        _ => {
            return vec![format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                name_regex_error()
            )];
        }
    };
    if name.is_empty() {
        errors.push("name part must be non-empty".to_owned());
    } else if name.len() > QUALIFIED_NAME_MAX_LEN {
        errors.push(format!(
            "name part {}",
            max_len_error(QUALIFIED_NAME_MAX_LEN)
        ));
    }
    if !is_qualified_name_part(name) {
        errors.push(format!("name part {}", name_regex_error()));
    }
    errors
}

/// apimachinery's `validation.IsValidLabelValue`: the messages, empty when valid.
fn label_value_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > LABEL_VALUE_MAX_LEN {
        errors.push(max_len_error(LABEL_VALUE_MAX_LEN));
    }
    if !value.is_empty() && !is_qualified_name_part(value) {
        errors.push(regex_error(
            LABEL_VALUE_MSG,
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errors
}

/// apimachinery's lexer tokens (its `ErrorToken` cannot occur: every special byte is a token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    EndOfString,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

#[derive(Debug, Clone)]
struct Scanned {
    token: Token,
    literal: String,
}

fn is_whitespace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | b'\n')
}

/// The token a special byte forms on its own, `None` for bytes that belong to identifiers.
fn special_token(byte: u8) -> Option<Token> {
    match byte {
        b'=' => Some(Token::Equals),
        b'!' => Some(Token::DoesNotExist),
        b'(' => Some(Token::OpenPar),
        b')' => Some(Token::ClosedPar),
        b',' => Some(Token::Comma),
        b'>' => Some(Token::GreaterThan),
        b'<' => Some(Token::LessThan),
        _ => None,
    }
}

/// Byte lexer mirroring apimachinery's: reading past the end yields 0, and so does a NUL
/// byte, which therefore ends whatever token it interrupts.
struct Lexer<'a> {
    input: &'a [u8],
    position: usize,
}

impl Lexer<'_> {
    fn read(&mut self) -> u8 {
        match self.input.get(self.position) {
            Some(&byte) => {
                self.position += 1;
                byte
            }
            None => 0,
        }
    }

    /// Steps back over a byte that was really read (never called after reading the end).
    fn unread(&mut self) {
        self.position = self.position.saturating_sub(1);
    }

    fn lex(&mut self) -> Scanned {
        let mut byte = self.read();
        while is_whitespace(byte) {
            byte = self.read();
        }
        if byte == 0 {
            return Scanned {
                token: Token::EndOfString,
                literal: String::new(),
            };
        }
        match special_token(byte) {
            Some(token) => self.scan_special(byte, token),
            None => {
                self.unread();
                self.scan_identifier()
            }
        }
    }

    fn scan_identifier(&mut self) -> Scanned {
        let mut buffer = Vec::new();
        loop {
            let byte = self.read();
            if byte == 0 {
                break;
            }
            if special_token(byte).is_some() || is_whitespace(byte) {
                self.unread();
                break;
            }
            buffer.push(byte);
        }
        // Identifiers only ever split at ASCII bytes, so the bytes stay valid UTF-8.
        let literal = String::from_utf8_lossy(&buffer).into_owned();
        let token = match literal.as_str() {
            "in" => Token::In,
            "notin" => Token::NotIn,
            _ => Token::Identifier,
        };
        Scanned { token, literal }
    }

    /// Extends a special symbol while the longer spelling is still a token (`==`, `!=`).
    fn scan_special(&mut self, first: u8, token: Token) -> Scanned {
        let mut scanned = Scanned {
            token,
            literal: char::from(first).to_string(),
        };
        loop {
            let byte = self.read();
            if byte == 0 {
                break;
            }
            if special_token(byte).is_none() {
                self.unread();
                break;
            }
            let longer = match (scanned.literal.as_str(), byte) {
                ("=", b'=') => Token::DoubleEquals,
                ("!", b'=') => Token::NotEquals,
                _ => {
                    self.unread();
                    break;
                }
            };
            scanned.token = longer;
            scanned.literal.push('=');
        }
        scanned
    }
}

/// Whether `in`/`notin` are operators (after a key) or plain identifiers (everywhere else).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    KeyAndOperator,
    Values,
}

struct Parser {
    items: Vec<Scanned>,
    position: usize,
}

const BINARY_OPERATORS: &str = "in, notin, =, ==, !=, gt, lt";

impl Parser {
    fn new(input: &str) -> Self {
        let mut lexer = Lexer {
            input: input.as_bytes(),
            position: 0,
        };
        let mut items = Vec::new();
        loop {
            let scanned = lexer.lex();
            let done = scanned.token == Token::EndOfString;
            items.push(scanned);
            if done {
                break;
            }
        }
        Self { items, position: 0 }
    }

    fn lookahead(&self, context: Context) -> (Token, String) {
        let (token, literal) = match self.items.get(self.position) {
            Some(item) => (item.token, item.literal.clone()),
            None => (Token::EndOfString, String::new()),
        };
        let token = match (context, token) {
            (Context::Values, Token::In | Token::NotIn) => Token::Identifier,
            _ => token,
        };
        (token, literal)
    }

    fn consume(&mut self, context: Context) -> (Token, String) {
        let item = self.lookahead(context);
        self.position += 1;
        item
    }

    fn parse(mut self) -> Result<Vec<Requirement>, SelectorError> {
        let mut requirements = Vec::new();
        loop {
            let (token, literal) = self.lookahead(Context::Values);
            match token {
                Token::Identifier | Token::DoesNotExist => {
                    requirements.push(
                        self.parse_requirement()
                            .map_err(SelectorError::LabelRequirement)?,
                    );
                    let (token, literal) = self.consume(Context::Values);
                    match token {
                        Token::EndOfString => return Ok(requirements),
                        Token::Comma => {
                            let (next, literal) = self.lookahead(Context::Values);
                            if next != Token::Identifier && next != Token::DoesNotExist {
                                return Err(SelectorError::LabelSyntax {
                                    found: literal,
                                    expected: "identifier after ','",
                                });
                            }
                        }
                        _ => {
                            return Err(SelectorError::LabelSyntax {
                                found: literal,
                                expected: "',' or 'end of string'",
                            });
                        }
                    }
                }
                Token::EndOfString => return Ok(requirements),
                _ => {
                    return Err(SelectorError::LabelSyntax {
                        found: literal,
                        expected: "!, identifier, or 'end of string'",
                    });
                }
            }
        }
    }

    fn parse_requirement(&mut self) -> Result<Requirement, RequirementError> {
        let (key, unary) = self.parse_key_and_infer_operator()?;
        if let Some(operator) = unary {
            return Requirement::new(key, operator, Vec::new()).map_err(RequirementError::Invalid);
        }
        let operator = self.parse_operator()?;
        let values = match operator {
            Operator::In | Operator::NotIn => self.parse_values()?,
            _ => vec![self.parse_exact_value()?],
        };
        Requirement::new(key, operator, values).map_err(RequirementError::Invalid)
    }

    /// Reads `[!]key`; a key followed by `,` or the end means Exists, `!key` DoesNotExist.
    fn parse_key_and_infer_operator(
        &mut self,
    ) -> Result<(String, Option<Operator>), RequirementError> {
        let (mut token, mut literal) = self.consume(Context::Values);
        let negated = token == Token::DoesNotExist;
        if negated {
            (token, literal) = self.consume(Context::Values);
        }
        if token != Token::Identifier {
            return Err(RequirementError::Unexpected {
                found: literal,
                expected: "identifier",
            });
        }
        let key_errors = qualified_name_errors(&literal);
        if !key_errors.is_empty() {
            let invalid = InvalidValue {
                // The parser validates the key with a nil field path, which Go prints so.
                path: "<nil>".into(),
                value: BadValue::Text(literal),
                detail: key_errors.join("; "),
            };
            return Err(RequirementError::Invalid(InvalidValues(vec![invalid])));
        }
        let (next, _) = self.lookahead(Context::Values);
        let unary = if negated {
            // `!key` is complete even when junk follows; the caller then reports the junk.
            Some(Operator::DoesNotExist)
        } else if matches!(next, Token::EndOfString | Token::Comma) {
            Some(Operator::Exists)
        } else {
            None
        };
        Ok((literal, unary))
    }

    fn parse_operator(&mut self) -> Result<Operator, RequirementError> {
        let (token, literal) = self.consume(Context::KeyAndOperator);
        match token {
            Token::In => Ok(Operator::In),
            Token::Equals => Ok(Operator::Equals),
            Token::DoubleEquals => Ok(Operator::DoubleEquals),
            Token::GreaterThan => Ok(Operator::GreaterThan),
            Token::LessThan => Ok(Operator::LessThan),
            Token::NotIn => Ok(Operator::NotIn),
            Token::NotEquals => Ok(Operator::NotEquals),
            _ => Err(RequirementError::Unexpected {
                found: literal,
                expected: BINARY_OPERATORS,
            }),
        }
    }

    /// Parses `(v1,v2,...)`; `()` is the set holding only the empty value.
    fn parse_values(&mut self) -> Result<Vec<String>, RequirementError> {
        let (token, literal) = self.consume(Context::Values);
        if token != Token::OpenPar {
            return Err(RequirementError::MissingOpenParen { found: literal });
        }
        let (token, literal) = self.lookahead(Context::Values);
        match token {
            Token::Identifier | Token::Comma => self.parse_identifiers_list(),
            Token::ClosedPar => {
                self.consume(Context::Values);
                Ok(vec![String::new()])
            }
            _ => Err(RequirementError::Unexpected {
                found: literal,
                expected: "',', ')' or identifier",
            }),
        }
    }

    /// Parses a possibly empty, comma-separated list of possibly empty values up to and
    /// including `)`, returning the sorted, de-duplicated values.
    fn parse_identifiers_list(&mut self) -> Result<Vec<String>, RequirementError> {
        let mut values = BTreeSet::new();
        loop {
            let (token, literal) = self.consume(Context::Values);
            match token {
                Token::Identifier => {
                    values.insert(literal);
                    let (next, literal) = self.lookahead(Context::Values);
                    match next {
                        Token::Comma => {}
                        Token::ClosedPar => break,
                        _ => {
                            return Err(RequirementError::Unexpected {
                                found: literal,
                                expected: "',' or ')'",
                            });
                        }
                    }
                }
                Token::Comma => {
                    // A comma with nothing before it, after it, or between two commas
                    // stands for the empty value.
                    if values.is_empty() {
                        values.insert(String::new());
                    }
                    let (next, _) = self.lookahead(Context::Values);
                    if next == Token::ClosedPar {
                        values.insert(String::new());
                        break;
                    }
                    if next == Token::Comma {
                        self.consume(Context::Values);
                        values.insert(String::new());
                    }
                }
                _ => {
                    return Err(RequirementError::Unexpected {
                        found: literal,
                        expected: "',', or identifier",
                    });
                }
            }
        }
        self.consume(Context::Values);
        Ok(values.into_iter().collect())
    }

    /// Parses the value after `=`, `==`, `!=`, `>` or `<`; nothing at all is the empty value.
    fn parse_exact_value(&mut self) -> Result<String, RequirementError> {
        let (next, _) = self.lookahead(Context::Values);
        if matches!(next, Token::EndOfString | Token::Comma) {
            return Ok(String::new());
        }
        let (token, literal) = self.consume(Context::Values);
        if token == Token::Identifier {
            return Ok(literal);
        }
        Err(RequirementError::Unexpected {
            found: literal,
            expected: "identifier",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;
    use kube_core::SelectorExt;
    use proptest::prelude::*;

    const NAME_PART_REGEX: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
    const VALUE_REGEX: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
    const PREFIX_REGEX: &str = r"prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

    fn set(values: &[&str]) -> BTreeSet<String> {
        values.iter().map(|v| (*v).to_owned()).collect()
    }

    fn eq(key: &str, value: &str) -> Expression {
        Expression::Equal(key.into(), value.into())
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn selector(expressions: Vec<Expression>) -> Selector {
        expressions.into_iter().collect()
    }

    #[test]
    fn parses_every_operator_and_spacing() {
        let long_key = "k".repeat(63);
        let long_value = "v".repeat(63);
        let long = format!("{long_key}={long_value}");
        let cases: Vec<(&str, Vec<Expression>)> = vec![
            ("", vec![]),
            (" \t\r\n ", vec![]),
            ("a=b", vec![eq("a", "b")]),
            ("a==b", vec![eq("a", "b")]),
            ("a!=b", vec![Expression::NotEqual("a".into(), "b".into())]),
            ("a", vec![Expression::Exists("a".into())]),
            ("!a", vec![Expression::DoesNotExist("a".into())]),
            ("! a", vec![Expression::DoesNotExist("a".into())]),
            (
                "a in (x,y)",
                vec![Expression::In("a".into(), set(&["x", "y"]))],
            ),
            (
                "a notin (x, y)",
                vec![Expression::NotIn("a".into(), set(&["x", "y"]))],
            ),
            ("a in(x)", vec![Expression::In("a".into(), set(&["x"]))]),
            (
                "a  in  (  x  ,  y  )  ",
                vec![Expression::In("a".into(), set(&["x", "y"]))],
            ),
            (
                "a in (y,x,y)",
                vec![Expression::In("a".into(), set(&["x", "y"]))],
            ),
            // `()` and stray commas stand for the empty value, as in apimachinery.
            ("a in ()", vec![Expression::In("a".into(), set(&[""]))]),
            (
                "a notin ()",
                vec![Expression::NotIn("a".into(), set(&[""]))],
            ),
            ("a in (,)", vec![Expression::In("a".into(), set(&[""]))]),
            (
                "a in (,x)",
                vec![Expression::In("a".into(), set(&["", "x"]))],
            ),
            (
                "a in (x,)",
                vec![Expression::In("a".into(), set(&["", "x"]))],
            ),
            (
                "a in (x,,y)",
                vec![Expression::In("a".into(), set(&["", "x", "y"]))],
            ),
            ("a=", vec![eq("a", "")]),
            ("a==", vec![eq("a", "")]),
            ("a!=", vec![Expression::NotEqual("a".into(), String::new())]),
            ("a=,b", vec![eq("a", ""), Expression::Exists("b".into())]),
            (
                " a = b , c != d ",
                vec![eq("a", "b"), Expression::NotEqual("c".into(), "d".into())],
            ),
            ("\ta\n=\rb", vec![eq("a", "b")]),
            (
                "a,!b,c=d",
                vec![
                    Expression::Exists("a".into()),
                    Expression::DoesNotExist("b".into()),
                    eq("c", "d"),
                ],
            ),
            // Requirements come out sorted by key; equal keys keep their order.
            (
                "y=b,x=a,y!=c",
                vec![
                    eq("x", "a"),
                    eq("y", "b"),
                    Expression::NotEqual("y".into(), "c".into()),
                ],
            ),
            // `in`/`notin` are keywords only in operator position.
            (
                "in in (in,notin)",
                vec![Expression::In("in".into(), set(&["in", "notin"]))],
            ),
            ("notin=in", vec![eq("notin", "in")]),
            ("in", vec![Expression::Exists("in".into())]),
            ("!notin", vec![Expression::DoesNotExist("notin".into())]),
            ("example.com/app=web", vec![eq("example.com/app", "web")]),
            ("a.b_c-D9=V.1_x-Z", vec![eq("a.b_c-D9", "V.1_x-Z")]),
            (long.as_str(), vec![eq(&long_key, &long_value)]),
            // A NUL byte reads as end of input to apimachinery's lexer: it ends the token
            // it interrupts and, between tokens, the whole selector.
            ("a=\0b", vec![eq("a", "b")]),
            ("a \0 junk", vec![Expression::Exists("a".into())]),
        ];
        for (input, expected) in cases {
            let parsed = parse_label_selector(input)
                .unwrap_or_else(|e| panic!("{input:?} should parse, got {e}"));
            assert_eq!(parsed, selector(expected), "input {input:?}");
        }
    }

    #[test]
    fn rejects_like_apiserver() {
        let long_key = "k".repeat(64);
        let long_value = "v".repeat(64);
        let cases: Vec<(String, String)> = vec![
            ("=".into(), "found '=', expected: !, identifier, or 'end of string'".into()),
            (",".into(), "found ',', expected: !, identifier, or 'end of string'".into()),
            ("(a)".into(), "found '(', expected: !, identifier, or 'end of string'".into()),
            ("!=a".into(), "found '!=', expected: !, identifier, or 'end of string'".into()),
            ("a,".into(), "found '', expected: identifier after ','".into()),
            ("a,,b".into(), "found ',', expected: identifier after ','".into()),
            ("a,=b".into(), "found '=', expected: identifier after ','".into()),
            ("!a=b".into(), "found '=', expected: ',' or 'end of string'".into()),
            ("a=b c".into(), "found 'c', expected: ',' or 'end of string'".into()),
            ("a==b=c".into(), "found '=', expected: ',' or 'end of string'".into()),
            ("a=b\0c".into(), "found 'c', expected: ',' or 'end of string'".into()),
            ("a in (x) y".into(), "found 'y', expected: ',' or 'end of string'".into()),
            ("!".into(), "unable to parse requirement: found '', expected: identifier".into()),
            ("!!a".into(), "unable to parse requirement: found '!', expected: identifier".into()),
            ("a b".into(), "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt".into()),
            ("a!b".into(), "unable to parse requirement: found '!', expected: in, notin, =, ==, !=, gt, lt".into()),
            ("a ! = b".into(), "unable to parse requirement: found '!', expected: in, notin, =, ==, !=, gt, lt".into()),
            ("a (b)".into(), "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt".into()),
            ("a in".into(), "unable to parse requirement: found '' expected: '('".into()),
            ("a in x".into(), "unable to parse requirement: found 'x' expected: '('".into()),
            ("a notin x".into(), "unable to parse requirement: found 'x' expected: '('".into()),
            ("a in (".into(), "unable to parse requirement: found '', expected: ',', ')' or identifier".into()),
            ("a in (=)".into(), "unable to parse requirement: found '=', expected: ',', ')' or identifier".into()),
            ("a in (x".into(), "unable to parse requirement: found '', expected: ',' or ')'".into()),
            ("a in (x y)".into(), "unable to parse requirement: found 'y', expected: ',' or ')'".into()),
            ("a in (x,,)".into(), "unable to parse requirement: found ')', expected: ',', or identifier".into()),
            ("a in (,,".into(), "unable to parse requirement: found '', expected: ',', or identifier".into()),
            ("a=(b)".into(), "unable to parse requirement: found '(', expected: identifier".into()),
            ("a===b".into(), "unable to parse requirement: found '=', expected: identifier".into()),
            ("a=!b".into(), "unable to parse requirement: found '!', expected: identifier".into()),
            ("-a".into(), format!(r#"unable to parse requirement: <nil>: Invalid value: "-a": {NAME_PART_REGEX}"#)),
            ("a_=b".into(), format!(r#"unable to parse requirement: <nil>: Invalid value: "a_": {NAME_PART_REGEX}"#)),
            ("!é".into(), format!(r#"unable to parse requirement: <nil>: Invalid value: "é": {NAME_PART_REGEX}"#)),
            (
                format!("{long_key}=x"),
                format!(r#"unable to parse requirement: <nil>: Invalid value: "{long_key}": name part must be no more than 63 characters"#),
            ),
            ("a/".into(), format!(r#"unable to parse requirement: <nil>: Invalid value: "a/": name part must be non-empty; {NAME_PART_REGEX}"#)),
            ("/a".into(), r#"unable to parse requirement: <nil>: Invalid value: "/a": prefix part must be non-empty"#.into()),
            ("Example.com/a".into(), format!(r#"unable to parse requirement: <nil>: Invalid value: "Example.com/a": {PREFIX_REGEX}"#)),
            (
                "a/b/c in (x)".into(),
                r#"unable to parse requirement: <nil>: Invalid value: "a/b/c": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"#.into(),
            ),
            ("a=-b".into(), format!(r#"unable to parse requirement: values[0][a]: Invalid value: "-b": {VALUE_REGEX}"#)),
            ("a!=b/c".into(), format!(r#"unable to parse requirement: values[0][a]: Invalid value: "b/c": {VALUE_REGEX}"#)),
            (
                format!("a={long_value}"),
                format!(r#"unable to parse requirement: values[0][a]: Invalid value: "{long_value}": must be no more than 63 characters"#),
            ),
            (
                format!("a={long_value}_"),
                format!(r#"unable to parse requirement: values[0][a]: Invalid value: "{long_value}_": must be no more than 63 characters; {VALUE_REGEX}"#),
            ),
            // Values are validated in sorted order and the errors aggregated.
            (
                "a in (x,-z,-y)".into(),
                format!(r#"unable to parse requirement: [values[0][a]: Invalid value: "-y": {VALUE_REGEX}, values[1][a]: Invalid value: "-z": {VALUE_REGEX}]"#),
            ),
            ("a=\u{1}".into(), format!(r#"unable to parse requirement: values[0][a]: Invalid value: "\x01": {VALUE_REGEX}"#)),
            // The first bad requirement wins, even after a `>` that would be refused later.
            ("a>1,b=-x".into(), format!(r#"unable to parse requirement: values[0][b]: Invalid value: "-x": {VALUE_REGEX}"#)),
            (
                "a>x".into(),
                r#"unable to parse requirement: values[0]: Invalid value: "x": for 'Gt', 'Lt' operators, the value must be an integer"#.into(),
            ),
            (
                "a<".into(),
                r#"unable to parse requirement: values[0]: Invalid value: "": for 'Gt', 'Lt' operators, the value must be an integer"#.into(),
            ),
            ("a<-1".into(), format!(r#"unable to parse requirement: values[0][a]: Invalid value: "-1": {VALUE_REGEX}"#)),
            (
                "a>x_".into(),
                format!(r#"unable to parse requirement: [values[0]: Invalid value: "x_": for 'Gt', 'Lt' operators, the value must be an integer, values[0][a]: Invalid value: "x_": {VALUE_REGEX}]"#),
            ),
            // Valid comparisons are apiserver-legal but kube-core cannot hold them.
            ("a>1".into(), "unable to parse requirement: operator '>' in 'a>1' is not supported by this server".into()),
            ("z=1,b<2,a>3".into(), "unable to parse requirement: operator '>' in 'a>3' is not supported by this server".into()),
        ];
        for (input, expected) in cases {
            match parse_label_selector(&input) {
                Ok(parsed) => panic!("{input:?} should fail, parsed as {parsed}"),
                Err(error) => assert_eq!(error.to_string(), expected, "input {input:?}"),
            }
        }
    }

    #[test]
    fn error_variants_carry_context() {
        assert_eq!(
            parse_label_selector("a,"),
            Err(SelectorError::LabelSyntax {
                found: String::new(),
                expected: "identifier after ','",
            })
        );
        assert_eq!(
            parse_label_selector("a in x"),
            Err(SelectorError::LabelRequirement(
                RequirementError::MissingOpenParen { found: "x".into() }
            ))
        );
        let Err(SelectorError::LabelRequirement(RequirementError::Invalid(invalid))) =
            parse_label_selector("a in (-y,-z)")
        else {
            panic!("expected a validation error");
        };
        let paths: Vec<&str> = invalid.errors().iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["values[0][a]", "values[1][a]"]);
    }

    #[test]
    fn matches_labels_like_apimachinery() {
        type Pairs = &'static [(&'static str, &'static str)];
        let cases: &[(&str, Pairs, bool)] = &[
            ("", &[], true),
            ("", &[("a", "b")], true),
            ("a=b", &[("a", "b")], true),
            ("a==b", &[("a", "b"), ("c", "d")], true),
            ("a=b", &[("a", "c")], false),
            ("a=b", &[], false),
            ("a!=b", &[], true),
            ("a!=b", &[("a", "b")], false),
            ("a!=b", &[("a", "c")], true),
            ("a in (b,c)", &[("a", "c")], true),
            ("a in (b,c)", &[("a", "d")], false),
            ("a in (b,c)", &[], false),
            ("a notin (b,c)", &[], true),
            ("a notin (b,c)", &[("a", "b")], false),
            ("a notin (b,c)", &[("a", "d")], true),
            ("a", &[("a", "")], true),
            ("a", &[("b", "a")], false),
            ("!a", &[], true),
            ("!a", &[("a", "x")], false),
            ("a in ()", &[("a", "")], true),
            ("a in ()", &[("a", "x")], false),
            ("a in ()", &[], false),
            ("a notin ()", &[], true),
            ("a notin ()", &[("a", "")], false),
            ("a=", &[("a", "")], true),
            ("a=", &[], false),
            ("a!=", &[], true),
            ("a=b,c", &[("a", "b"), ("c", "x")], true),
            ("a=b,c", &[("a", "b")], false),
            ("a=b,!c", &[("a", "b"), ("c", "x")], false),
        ];
        for (input, object, expected) in cases {
            let parsed = parse_label_selector(input).expect("valid selector");
            assert_eq!(
                parsed.matches(&labels(object)),
                *expected,
                "{input:?} on {object:?}"
            );
        }
    }

    fn requirement(key: &str, operator: &str, values: Option<&[&str]>) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: operator.into(),
            values: values.map(|vs| vs.iter().map(|v| (*v).to_owned()).collect()),
        }
    }

    #[test]
    fn converts_typed_label_selectors() {
        assert!(
            from_label_selector(&LabelSelector::default())
                .expect("empty is valid")
                .selects_all()
        );
        let typed = LabelSelector {
            match_labels: Some(labels(&[("tier", "web"), ("app", "shop")])),
            match_expressions: Some(vec![
                requirement("env", "In", Some(&["prod", "staging"])),
                requirement("zone", "NotIn", Some(&["b"])),
                requirement("canary", "DoesNotExist", None),
                requirement("app", "Exists", Some(&[])),
            ]),
        };
        let converted = from_label_selector(&typed).expect("valid selector");
        assert_eq!(
            converted,
            selector(vec![
                eq("app", "shop"),
                Expression::Exists("app".into()),
                Expression::DoesNotExist("canary".into()),
                Expression::In("env".into(), set(&["prod", "staging"])),
                eq("tier", "web"),
                Expression::NotIn("zone".into(), set(&["b"])),
            ])
        );
        let object = labels(&[("app", "shop"), ("tier", "web"), ("env", "prod")]);
        assert!(converted.matches(&object));
        assert!(!converted.matches(&labels(&[("app", "shop"), ("tier", "web")])));
    }

    #[test]
    fn rejects_invalid_typed_label_selectors() {
        let cases: Vec<(LabelSelector, String)> = vec![
            (
                LabelSelector {
                    match_expressions: Some(vec![requirement("a", "Gt", Some(&["1"]))]),
                    ..Default::default()
                },
                r#""Gt" is not a valid label selector operator"#.into(),
            ),
            (
                LabelSelector {
                    match_expressions: Some(vec![requirement("a", "In", None)]),
                    ..Default::default()
                },
                "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty".into(),
            ),
            (
                LabelSelector {
                    match_expressions: Some(vec![requirement("a", "NotIn", Some(&[]))]),
                    ..Default::default()
                },
                "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty".into(),
            ),
            (
                LabelSelector {
                    match_expressions: Some(vec![requirement("a", "Exists", Some(&["x", "y"]))]),
                    ..Default::default()
                },
                r#"values: Invalid value: []string{"x", "y"}: values set must be empty for exists and does not exist"#.into(),
            ),
            (
                LabelSelector {
                    match_labels: Some(labels(&[("a b", "x")])),
                    ..Default::default()
                },
                format!(r#"key: Invalid value: "a b": {NAME_PART_REGEX}"#),
            ),
            (
                LabelSelector {
                    match_labels: Some(labels(&[("app", "-x")])),
                    ..Default::default()
                },
                format!(r#"values[0][app]: Invalid value: "-x": {VALUE_REGEX}"#),
            ),
            (
                LabelSelector {
                    match_expressions: Some(vec![requirement("", "In", Some(&["ok", "b\"ad"]))]),
                    ..Default::default()
                },
                format!(
                    r#"[key: Invalid value: "": name part must be non-empty; {NAME_PART_REGEX}, values[1][]: Invalid value: "b\"ad": {VALUE_REGEX}]"#
                ),
            ),
            // matchLabels are checked before matchExpressions.
            (
                LabelSelector {
                    match_labels: Some(labels(&[("app", "-x")])),
                    match_expressions: Some(vec![requirement("a", "Bogus", None)]),
                },
                format!(r#"values[0][app]: Invalid value: "-x": {VALUE_REGEX}"#),
            ),
        ];
        for (typed, expected) in cases {
            match from_label_selector(&typed) {
                Ok(converted) => panic!("{typed:?} should fail, converted to {converted}"),
                Err(error) => assert_eq!(error.to_string(), expected, "selector {typed:?}"),
            }
        }
    }

    #[test]
    fn converts_maps_without_validation() {
        assert!(from_map(&BTreeMap::new()).selects_all());
        let service = from_map(&labels(&[("app", "web"), ("odd key", "-")]));
        assert_eq!(
            service,
            selector(vec![eq("app", "web"), eq("odd key", "-")])
        );
        assert!(service.matches(&labels(&[("app", "web"), ("odd key", "-"), ("x", "y")])));
        assert!(!service.matches(&labels(&[("app", "web")])));
    }

    #[test]
    fn validation_messages_aggregate_and_deduplicate() {
        let invalid = |path: &str| InvalidValue {
            path: path.into(),
            value: BadValue::Text("v".into()),
            detail: "bad".into(),
        };
        assert_eq!(InvalidValues::new(Vec::new()), None);
        let one = InvalidValues::new(vec![invalid("p"), invalid("p")]).expect("non-empty");
        assert_eq!(one.to_string(), r#"p: Invalid value: "v": bad"#);
        let two =
            InvalidValues::new(vec![invalid("p"), invalid("q"), invalid("p")]).expect("non-empty");
        assert_eq!(
            two.to_string(),
            r#"[p: Invalid value: "v": bad, q: Invalid value: "v": bad]"#
        );
    }

    fn key_strategy() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "a",
            "b",
            "app",
            "in",
            "notin",
            "x.y_z-9",
            "example.com/app",
            "k8s.io/A",
        ])
        .prop_map(str::to_owned)
    }

    fn value_strategy() -> impl Strategy<Value = String> {
        prop::sample::select(vec!["", "v", "w", "in", "notin", "a.b", "1", "X_y-9"])
            .prop_map(str::to_owned)
    }

    fn expression_strategy() -> impl Strategy<Value = Expression> {
        let values = || prop::collection::btree_set(value_strategy(), 1..4);
        prop_oneof![
            (key_strategy(), values()).prop_map(|(k, v)| Expression::In(k, v)),
            (key_strategy(), values()).prop_map(|(k, v)| Expression::NotIn(k, v)),
            (key_strategy(), value_strategy()).prop_map(|(k, v)| Expression::Equal(k, v)),
            (key_strategy(), value_strategy()).prop_map(|(k, v)| Expression::NotEqual(k, v)),
            key_strategy().prop_map(Expression::Exists),
            key_strategy().prop_map(Expression::DoesNotExist),
        ]
    }

    fn label_map_strategy() -> impl Strategy<Value = BTreeMap<String, String>> {
        prop::collection::btree_map(key_strategy(), value_strategy(), 0..5)
    }

    /// Renders one expression by hand with arbitrary apimachinery-legal whitespace.
    fn spaced_text(expression: &Expression, gap: &str) -> String {
        let list = |values: &BTreeSet<String>| {
            let joined: Vec<&str> = values.iter().map(String::as_str).collect();
            joined.join(&format!("{gap},{gap}"))
        };
        match expression {
            Expression::In(k, v) => format!("{gap}{k} in{gap}({gap}{}{gap}){gap}", list(v)),
            Expression::NotIn(k, v) => format!("{gap}{k} notin{gap}({gap}{}{gap}){gap}", list(v)),
            Expression::Equal(k, v) => format!("{gap}{k}{gap}=={gap}{v}{gap}"),
            Expression::NotEqual(k, v) => format!("{gap}{k}{gap}!={gap}{v}{gap}"),
            Expression::Exists(k) => format!("{gap}{k}{gap}"),
            Expression::DoesNotExist(k) => format!("{gap}!{gap}{k}{gap}"),
        }
    }

    proptest! {
        #[test]
        fn rendered_selectors_reparse_equivalently(
            expressions in prop::collection::vec(expression_strategy(), 0..6),
            objects in prop::collection::vec(label_map_strategy(), 1..24),
        ) {
            let original = selector(expressions);
            let rendered = original.to_string();
            let reparsed = parse_label_selector(&rendered)
                .map_err(|e| TestCaseError::fail(format!("{rendered:?}: {e}")))?;
            for object in &objects {
                prop_assert_eq!(original.matches(object), reparsed.matches(object), "{:?} on {:?}", rendered, object);
            }
            // Parsing is a fixpoint: a parsed selector renders to text that parses back to it.
            prop_assert_eq!(parse_label_selector(&reparsed.to_string()), Ok(reparsed));
        }

        #[test]
        fn whitespace_never_changes_meaning(
            expressions in prop::collection::vec(expression_strategy(), 1..5),
            gap in prop::sample::select(vec!["", " ", "  ", "\t", " \n\r "]),
            objects in prop::collection::vec(label_map_strategy(), 1..16),
        ) {
            let spaced: Vec<String> = expressions.iter().map(|e| spaced_text(e, gap)).collect();
            let text = spaced.join(",");
            let parsed = parse_label_selector(&text)
                .map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
            let original = selector(expressions);
            for object in &objects {
                prop_assert_eq!(original.matches(object), parsed.matches(object), "{:?} on {:?}", text, object);
            }
        }

        #[test]
        fn arbitrary_input_never_panics(input in ".{0,40}", noise in "[a-z=!(), <>]{0,24}") {
            let _ = parse_label_selector(&input);
            let _ = parse_label_selector(&noise);
        }
    }
}
