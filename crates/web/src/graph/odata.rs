//! OData query options of the Graph-compatible API: `$select`, `$top`, `$skiptoken`, `$count`
//! and `$filter`.
//!
//! `$filter` is parsed by a small recursive-descent parser straight into the store's
//! [`UserFilter`] (bound SQL parameters, never spliced text). Only the grammar below is parsed;
//! whatever it does not support is refused with a 400 that says what is unsupported and what is,
//! never ignored. A syntax error anywhere in the expression is reported before an unsupported
//! part, so each parse step returns its outcome ([`Sem`]) inside the syntax result.
//!
//! `$orderby` is refused: results come in a stable order (by id) so that `@odata.nextLink`
//! paging never skips or repeats an item; sort on the client.

use seatkeeper_app::AppError;
use seatkeeper_domain::SkuId;
use seatkeeper_domain::directory::{UserField, UserFilter, Value};

/// The largest `$top`.
pub const MAX_TOP: i64 = 999;
/// The page size without `$top`.
pub const DEFAULT_TOP: i64 = 100;
/// Limits that keep a hostile `$filter` cheap to parse and to run.
const MAX_FILTER_CHARS: usize = 4096;
const MAX_DEPTH: usize = 32;
const MAX_TERMS: usize = 100;

/// What `$filter` on users supports, quoted in every "unsupported" error.
pub const USER_FILTER_HELP: &str = "Supported on users: eq and ne on id, userPrincipalName, displayName, givenName, surname, mail, userType, usageLocation, jobTitle, department, accountEnabled (true/false); in (...) on the same properties; startswith(property,'text') on userPrincipalName, displayName, givenName, surname, mail, jobTitle, department, usageLocation, userType; assignedLicenses/any(x:x/skuId eq <guid>); assignedLicenses/$count eq N (or ne N); combined with and, or, not and parentheses. Text goes in single quotes, with '' for a quote inside.";

/// What `$filter` on groups supports.
pub const GROUP_FILTER_HELP: &str = "Supported on groups: displayName eq 'text' or startswith(displayName,'text') (text in single quotes, any case), hasMembersWithLicenseErrors eq true, or assignedLicenses/any(x:x/skuId eq <guid>) (several joined with or inside).";

/// What `$filter` on groups asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupFilter {
    /// Every group.
    All,
    /// Groups whose displayName starts with the text.
    Prefix(String),
    /// Groups whose displayName is the text, in any case (`displayName eq '…'`, as Graph
    /// compares it).
    Named(String),
    /// Groups with members whose group licenses are in error (L6).
    WithLicenseErrors,
    /// Groups that give any of these products (`assignedLicenses/any(x:x/skuId eq …)`).
    GivingAny(Vec<seatkeeper_domain::SkuId>),
}

/// The query options an endpoint accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opt {
    Select,
    Top,
    SkipToken,
    Count,
    Filter,
}

impl Opt {
    fn name(self) -> &'static str {
        match self {
            Opt::Select => "$select",
            Opt::Top => "$top",
            Opt::SkipToken => "$skiptoken",
            Opt::Count => "$count",
            Opt::Filter => "$filter",
        }
    }
}

/// Options for a collection: `$select`, `$top`, `$skiptoken`, `$count`, `$filter` (all of them).
pub const LIST: &[Opt] = &[
    Opt::Select,
    Opt::Top,
    Opt::SkipToken,
    Opt::Count,
    Opt::Filter,
];
/// Options for a single entity or a small fixed list: `$select` only.
pub const SELECT_ONLY: &[Opt] = &[Opt::Select];

/// The parsed query string.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    pub select: Option<Vec<String>>,
    pub top: Option<i64>,
    pub skiptoken: Option<String>,
    pub count: bool,
    pub filter: Option<String>,
    /// The query's raw `name=value` pairs except `$skiptoken`, to build `@odata.nextLink`.
    pub keep: Vec<String>,
}

impl Query {
    pub fn top(&self) -> i64 {
        self.top.unwrap_or(DEFAULT_TOP)
    }
}

fn invalid(code: &'static str, msg: impl Into<String>) -> AppError {
    AppError::invalid(code, msg)
}

/// Decodes one `application/x-www-form-urlencoded` component (`+` is a space, `%XX` a byte) with
/// `form_urlencoded`, refusing what that crate would decode leniently: a `%` without two hex
/// digits, bytes that are not UTF-8, and NUL.
pub fn url_decode(s: &str) -> Result<String, AppError> {
    let b = s.as_bytes();
    let bad_escape = b.iter().enumerate().any(|(i, &c)| {
        c == b'%'
            && !b
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
    });
    if bad_escape {
        return Err(invalid(
            "invalidQuery",
            "The query string has a '%' that is not followed by two hex digits; encode '%' as %25.",
        ));
    }
    // With its separators escaped, the component decodes as a single name.
    let one = s.replace('&', "%26").replace('=', "%3D");
    let out: String = form_urlencoded::parse(one.as_bytes())
        .map(|(name, _)| name)
        .collect();
    // Bytes that are not UTF-8 become U+FFFD: one the text did not spell means such bytes.
    let spelled =
        s.matches('\u{FFFD}').count() + s.to_ascii_uppercase().matches("%EF%BF%BD").count();
    if out.matches('\u{FFFD}').count() != spelled {
        return Err(invalid(
            "invalidQuery",
            "The query string is not valid UTF-8 once decoded.",
        ));
    }
    if out.contains('\0') {
        return Err(invalid(
            "invalidQuery",
            "The request contains a NUL character (%00); control characters are not allowed.",
        ));
    }
    Ok(out)
}

/// Parses the query string, accepting only the options in `allowed`. Parameters without a
/// leading `$` are not OData options and are ignored.
pub fn parse_query(raw: Option<&str>, allowed: &[Opt]) -> Result<Query, AppError> {
    let mut q = Query::default();
    let mut seen: Vec<String> = Vec::new();
    for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let key = url_decode(k)?.trim().to_ascii_lowercase();
        let value = url_decode(v)?;
        if !key.starts_with('$') {
            q.keep.push(pair.to_string());
            continue;
        }
        if seen.contains(&key) {
            return Err(invalid(
                "invalidQuery",
                format!("Query option '{key}' is given more than once; give it once."),
            ));
        }
        seen.push(key.clone());
        let opt = match key.as_str() {
            "$orderby" => {
                return Err(invalid(
                    "unsupportedQuery",
                    "$orderby is not supported: results come in a stable order (by id) so that paging with @odata.nextLink never skips or repeats an item; sort on the client.",
                ));
            }
            "$skip" => {
                return Err(invalid(
                    "unsupportedQuery",
                    "$skip is not supported: page with $top and follow @odata.nextLink.",
                ));
            }
            other => LIST
                .iter()
                .copied()
                .find(|o| o.name() == other)
                .ok_or_else(|| {
                    invalid(
                        "unsupportedQuery",
                        format!(
                            "Query option '{other}' is not supported here. Supported: {}.",
                            names(allowed)
                        ),
                    )
                })?,
        };
        if !allowed.contains(&opt) {
            return Err(invalid(
                "unsupportedQuery",
                format!(
                    "Query option '{}' is not supported on this endpoint. Supported here: {}.",
                    opt.name(),
                    names(allowed)
                ),
            ));
        }
        if opt != Opt::SkipToken {
            q.keep.push(pair.to_string());
        }
        match opt {
            Opt::Select => {
                let list: Vec<String> = value
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                if list.is_empty() {
                    return Err(invalid(
                        "invalidQuery",
                        "$select is empty: list properties separated by commas, e.g. $select=id,displayName.",
                    ));
                }
                q.select = Some(list);
            }
            Opt::Top => {
                let n = value.trim().parse::<i64>().ok();
                let n = n.filter(|n| (1..=MAX_TOP).contains(n)).ok_or_else(|| {
                    invalid(
                        "invalidPageSize",
                        format!(
                            "Invalid page size specified: '{value}'. Must be between 1 and {MAX_TOP} inclusive."
                        ),
                    )
                })?;
                q.top = Some(n);
            }
            Opt::SkipToken => q.skiptoken = Some(value),
            Opt::Count => match value.trim().to_ascii_lowercase().as_str() {
                "true" => q.count = true,
                "false" => q.count = false,
                _ => {
                    return Err(invalid(
                        "invalidQuery",
                        format!("$count must be true or false, not '{value}'."),
                    ));
                }
            },
            Opt::Filter => {
                if value.trim().is_empty() {
                    return Err(invalid(
                        "invalidFilter",
                        "$filter is empty: give an expression such as userType eq 'Guest', or leave $filter out.",
                    ));
                }
                q.filter = Some(value);
            }
        }
    }
    Ok(q)
}

fn names(allowed: &[Opt]) -> String {
    if allowed.is_empty() {
        "none".into()
    } else {
        allowed
            .iter()
            .map(|o| o.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Checks `$select` against a type's properties; returns the canonical names. `id` is always
/// kept by the caller.
pub fn parse_select(
    select: &Option<Vec<String>>,
    props: &[&'static str],
    type_name: &str,
) -> Result<Option<Vec<&'static str>>, AppError> {
    let Some(list) = select else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(list.len());
    for name in list {
        if name == "*" {
            return Ok(None);
        }
        match props.iter().find(|p| p.eq_ignore_ascii_case(name)) {
            Some(p) => {
                if !out.contains(p) {
                    out.push(*p);
                }
            }
            None => {
                return Err(invalid(
                    "invalidSelect",
                    format!(
                        "Could not find a property named '{name}' on type '{type_name}'. Properties: {}.",
                        props.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(Some(out))
}

// ----- $filter: tokens -----

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// A name, path, number, GUID or keyword.
    Word(String),
    /// A quoted string, unescaped.
    Str(String),
    /// One of `(`, `)`, `,` and `:`.
    Punct(char),
}

/// Why a `$filter` was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    pub message: String,
    /// True when the expression is well-formed but asks for something not supported.
    pub unsupported: bool,
}

fn syntax(msg: impl Into<String>) -> FilterError {
    FilterError {
        message: msg.into(),
        unsupported: false,
    }
}

fn unsupported(msg: impl Into<String>) -> FilterError {
    FilterError {
        message: msg.into(),
        unsupported: true,
    }
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '/' | '.' | '-')
}

fn tokenize(src: &str) -> Result<Vec<Tok>, FilterError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    // `i` is the index of the next character, so the 1-based position of `c`.
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        i += 1;
        match c {
            c if c.is_whitespace() => {}
            '(' | ')' | ',' | ':' => out.push(Tok::Punct(c)),
            '\'' => {
                let start = i;
                let mut s = String::new();
                loop {
                    match (chars.get(i), chars.get(i + 1)) {
                        (None, _) => {
                            return Err(syntax(format!(
                                "the text starting at position {start} has no closing quote; end text with ' and write a quote inside text as ''."
                            )));
                        }
                        (Some('\''), Some('\'')) => {
                            s.push('\'');
                            i += 2;
                        }
                        (Some('\''), _) => {
                            i += 1;
                            break;
                        }
                        (Some(&ch), _) => {
                            s.push(ch);
                            i += 1;
                        }
                    }
                }
                out.push(Tok::Str(s));
            }
            c if is_word_char(c) => {
                let start = i - 1;
                while chars.get(i).is_some_and(|&c| is_word_char(c)) {
                    i += 1;
                }
                out.push(Tok::Word(chars[start..i].iter().collect()));
            }
            '"' => {
                return Err(syntax(format!(
                    "double quotes at position {i} are not allowed; put text in single quotes, e.g. displayName eq 'Adele'."
                )));
            }
            other => {
                return Err(syntax(format!(
                    "unexpected character '{other}' at position {i}."
                )));
            }
        }
    }
    Ok(out)
}

fn describe(t: Option<&Tok>) -> String {
    match t {
        None => "the end of the expression".into(),
        Some(Tok::Word(w)) => format!("'{w}'"),
        Some(Tok::Str(s)) => format!("'{s}' (quoted text)"),
        Some(Tok::Punct(c)) => format!("'{c}'"),
    }
}

// ----- $filter: values -----

/// The comparison operators; only eq and ne are supported, the others are named when refused.
const OPS: &[&str] = &["eq", "ne", "gt", "ge", "lt", "le"];

#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Str(String),
    Int(i64),
    Bool(bool),
    Null,
    Guid(uuid::Uuid),
}

impl Literal {
    fn describe(&self) -> String {
        match self {
            Literal::Str(s) => format!("'{s}'"),
            Literal::Int(i) => i.to_string(),
            Literal::Bool(b) => b.to_string(),
            Literal::Null => "null".into(),
            Literal::Guid(g) => g.to_string(),
        }
    }
}

fn word_literal(w: &str) -> Option<Literal> {
    match w.to_ascii_lowercase().as_str() {
        "true" => return Some(Literal::Bool(true)),
        "false" => return Some(Literal::Bool(false)),
        "null" => return Some(Literal::Null),
        _ => {}
    }
    if let Ok(i) = w.parse::<i64>() {
        return Some(Literal::Int(i));
    }
    if w.len() == 36
        && let Ok(g) = uuid::Uuid::parse_str(w)
    {
        return Some(Literal::Guid(g));
    }
    None
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Id,
    Text,
    /// Text that may be missing (`eq null`).
    OptText,
    Bool,
}

/// A filterable user property: its field, kind and canonical name.
fn user_field(name: &str) -> Result<(UserField, Kind, &'static str), FilterError> {
    const FIELDS: &[(&str, UserField, Kind)] = &[
        ("id", UserField::Id, Kind::Id),
        (
            "userPrincipalName",
            UserField::UserPrincipalName,
            Kind::Text,
        ),
        ("displayName", UserField::DisplayName, Kind::Text),
        ("givenName", UserField::GivenName, Kind::OptText),
        ("surname", UserField::Surname, Kind::OptText),
        ("mail", UserField::Mail, Kind::OptText),
        ("userType", UserField::UserType, Kind::Text),
        ("usageLocation", UserField::UsageLocation, Kind::OptText),
        ("jobTitle", UserField::JobTitle, Kind::OptText),
        ("department", UserField::Department, Kind::OptText),
        ("accountEnabled", UserField::AccountEnabled, Kind::Bool),
    ];
    if let Some((n, f, k)) = FIELDS.iter().find(|(n, _, _)| n.eq_ignore_ascii_case(name)) {
        Ok((*f, *k, *n))
    } else if super::users::USER_PROPS
        .iter()
        .any(|p| p.eq_ignore_ascii_case(name))
    {
        Err(unsupported(format!(
            "filtering on {name} is not supported."
        )))
    } else {
        Err(unsupported(format!(
            "Could not find a property named '{name}' on type 'microsoft.graph.user'."
        )))
    }
}

fn user_value(name: &str, kind: Kind, v: &Literal) -> Result<Value, FilterError> {
    match (kind, v) {
        (Kind::Bool, Literal::Bool(b)) => Ok(Value::Int(i64::from(*b))),
        (Kind::Bool, other) => Err(syntax(format!(
            "{name} is true or false, not {}.",
            other.describe()
        ))),
        (Kind::Id, Literal::Str(s)) => Ok(Value::Text(s.trim().to_lowercase())),
        (Kind::Id, Literal::Guid(g)) => Ok(Value::Text(g.to_string())),
        (Kind::OptText, Literal::Null) => Ok(Value::Null),
        (Kind::Text | Kind::OptText, Literal::Str(s)) => Ok(Value::Text(s.clone())),
        (_, other) => Err(syntax(format!(
            "{name} is compared with quoted text, e.g. {name} eq 'text', not {}.",
            other.describe()
        ))),
    }
}

// ----- $filter: what each supported shape means -----

/// What a well-formed part of a `$filter` means, or why it is not supported.
type Sem = Result<UserFilter, FilterError>;

const ONLY_SKU_IN_ANY: &str =
    "inside assignedLicenses/any(x: ...) only x/skuId eq <guid> (joined with or) is supported.";

/// `property op value` on a user property.
fn compare(property: &str, op: &str, v: &Literal) -> Sem {
    let (field, kind, name) = user_field(property)?;
    let value = user_value(name, kind, v)?;
    match op {
        "eq" => Ok(UserFilter::Eq(field, value)),
        // A missing value differs from any text, as in OData.
        "ne" if kind == Kind::OptText && matches!(value, Value::Text(_)) => {
            Ok(UserFilter::Or(vec![
                UserFilter::Not(Box::new(UserFilter::Eq(field, value))),
                UserFilter::Eq(field, Value::Null),
            ]))
        }
        "ne" => Ok(UserFilter::Not(Box::new(UserFilter::Eq(field, value)))),
        other => Err(unsupported(format!(
            "the operator {other} is not supported on {name}; use eq or ne."
        ))),
    }
}

/// `x/skuId eq <guid>` inside `assignedLicenses/any(x: ...)`.
fn has_sku(property: &str, op: &str, value: &Literal) -> Sem {
    if op != "eq" || !property.eq_ignore_ascii_case("skuId") {
        return Err(unsupported(ONLY_SKU_IN_ANY));
    }
    let id = match value {
        Literal::Guid(g) => Some(*g),
        Literal::Str(s) => uuid::Uuid::parse_str(s.trim()).ok(),
        _ => None,
    };
    id.map(|g| UserFilter::HasSku(SkuId::from(g)))
        .ok_or_else(|| {
            syntax(format!(
                "skuId {} is not a GUID (like 3b555118-da6a-4418-894f-7df1e2096870).",
                value.describe()
            ))
        })
}

/// `collection/$count op n`.
fn license_count(collection: &str, op: &str, n: i64) -> Sem {
    if !collection.eq_ignore_ascii_case("assignedLicenses") {
        return Err(unsupported(format!(
            "{collection}/$count is not supported; only assignedLicenses/$count."
        )));
    }
    if n < 0 {
        return Err(syntax("assignedLicenses/$count is never negative."));
    }
    match op {
        "eq" => Ok(UserFilter::LicenseCount(n)),
        "ne" => Ok(UserFilter::Not(Box::new(UserFilter::LicenseCount(n)))),
        other => Err(unsupported(format!(
            "assignedLicenses/$count {other} is not supported; use eq or ne."
        ))),
    }
}

/// `name(args)`: only `startswith(property,'text')` on a text property.
fn startswith(name: &str, args: &[Tok]) -> Sem {
    if !name.eq_ignore_ascii_case("startswith") {
        return Err(unsupported(format!(
            "the function {name}() is not supported; use startswith(property,'text')."
        )));
    }
    let (p, s) = match args {
        [Tok::Word(p), Tok::Str(s)] if word_literal(p).is_none() => (p, s),
        _ => {
            return Err(syntax(
                "startswith takes a property and quoted text, e.g. startswith(displayName,'Ad').",
            ));
        }
    };
    match user_field(p)? {
        (field, Kind::Text | Kind::OptText, _) => Ok(UserFilter::StartsWith(field, s.clone())),
        (_, _, name) => Err(unsupported(format!(
            "startswith() is not supported on {name}; use eq."
        ))),
    }
}

fn both(a: Sem, b: Sem, join: fn(Vec<UserFilter>) -> UserFilter) -> Sem {
    Ok(join(vec![a?, b?]))
}

// ----- $filter: parser -----

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
    terms: usize,
    /// The lambda variable in scope, if any; inside a lambda only [`has_sku`] joined with or is
    /// supported.
    var: Option<String>,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        if t.is_some() {
            self.pos += 1;
        }
        t
    }
    fn eat(&mut self, t: &Tok) -> bool {
        let hit = self.peek() == Some(t);
        if hit {
            self.pos += 1;
        }
        hit
    }
    fn eat_keyword(&mut self, k: &str) -> bool {
        let hit = matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(k));
        if hit {
            self.pos += 1;
        }
        hit
    }
    fn expect(&mut self, p: char, what: &str) -> Result<(), FilterError> {
        match self.next() {
            Some(Tok::Punct(c)) if c == p => Ok(()),
            got => Err(syntax(format!(
                "expected {what} but found {}.",
                describe(got.as_ref())
            ))),
        }
    }
    fn term(&mut self) -> Result<(), FilterError> {
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(unsupported(format!(
                "the expression has more than {MAX_TERMS} comparisons; split the query."
            )));
        }
        Ok(())
    }
    /// Inside a lambda, every shape but `or` and [`has_sku`] is refused.
    fn outside_lambda(&self, sem: Sem) -> Sem {
        match self.var {
            Some(_) => Err(unsupported(ONLY_SKU_IN_ANY)),
            None => sem,
        }
    }

    fn or(&mut self) -> Result<Sem, FilterError> {
        let mut left = self.and()?;
        while self.eat_keyword("or") {
            let right = self.and()?;
            left = both(left, right, UserFilter::Or);
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Sem, FilterError> {
        let mut left = self.unary()?;
        while self.eat_keyword("and") {
            let right = self.unary()?;
            left = match self.var {
                Some(_) => Err(unsupported(
                    "and inside assignedLicenses/any(...) is not supported; write two any(...) expressions joined with and.",
                )),
                None => both(left, right, UserFilter::And),
            };
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Sem, FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(unsupported(format!(
                "the expression nests more than {MAX_DEPTH} levels deep."
            )));
        }
        let e = if self.eat_keyword("not") {
            let operand = self.unary()?;
            self.outside_lambda(operand.map(|f| UserFilter::Not(Box::new(f))))
        } else {
            self.primary()?
        };
        self.depth -= 1;
        Ok(e)
    }

    /// A property path as written; inside a lambda it must start with the variable, which is
    /// stripped.
    fn property(&self, w: &str) -> Result<String, FilterError> {
        match &self.var {
            Some(v) => match w.split_once('/') {
                Some((head, rest)) if head == v && !rest.is_empty() => Ok(rest.to_string()),
                _ => Err(syntax(format!(
                    "inside a lambda, write properties through its variable, e.g. {v}/skuId, not '{w}'."
                ))),
            },
            None => Ok(w.to_string()),
        }
    }

    fn primary(&mut self) -> Result<Sem, FilterError> {
        match self.next() {
            Some(Tok::Punct('(')) => {
                let e = self.or()?;
                self.expect(')', "')' to close '('")?;
                Ok(e)
            }
            Some(Tok::Word(w)) if self.peek() == Some(&Tok::Punct('(')) => {
                let lower = w.to_ascii_lowercase();
                if lower.ends_with("/any") || lower.ends_with("/all") {
                    self.lambda(&w)
                } else {
                    self.call(&w)
                }
            }
            Some(Tok::Word(w)) => self.comparison(&w),
            Some(Tok::Str(s)) => Err(syntax(format!(
                "quoted text '{s}' must follow a property and an operator, e.g. displayName eq '{s}'."
            ))),
            got => Err(syntax(format!(
                "expected a comparison such as userType eq 'Guest' but found {}.",
                describe(got.as_ref())
            ))),
        }
    }

    /// `collection/any(v: body)`, `collection/any()` or `collection/all(...)`.
    fn lambda(&mut self, w: &str) -> Result<Sem, FilterError> {
        self.term()?;
        let path = self.property(w)?;
        let (collection, op) = path.rsplit_once('/').unwrap_or((path.as_str(), ""));
        self.expect('(', "'('")?;
        let mut body = Ok(UserFilter::Not(Box::new(UserFilter::LicenseCount(0))));
        if !self.eat(&Tok::Punct(')')) {
            let var = match self.next() {
                Some(Tok::Word(v))
                    if v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                        && v.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) =>
                {
                    v
                }
                got => {
                    return Err(syntax(format!(
                        "expected a lambda variable as in {collection}/any(x:x/skuId eq <guid>) but found {}.",
                        describe(got.as_ref())
                    )));
                }
            };
            self.expect(':', "':' after the lambda variable")?;
            let outer = self.var.replace(var);
            let parsed = self.or();
            self.var = outer;
            body = parsed?;
            self.expect(')', "')' to close the lambda")?;
        }
        let sem = if !collection.eq_ignore_ascii_case("assignedLicenses") {
            Err(unsupported(format!(
                "lambda filters on {collection} are not supported; only assignedLicenses/any(x:x/skuId eq <guid>)."
            )))
        } else if op.eq_ignore_ascii_case("all") {
            Err(unsupported(
                "assignedLicenses/all(...) is not supported; use assignedLicenses/any(...) or not(assignedLicenses/any(...)).",
            ))
        } else {
            body
        };
        Ok(self.outside_lambda(sem))
    }

    /// `name(arg, …)`: each argument a property or a value.
    fn call(&mut self, name: &str) -> Result<Sem, FilterError> {
        self.term()?;
        self.expect('(', "'('")?;
        let mut args = Vec::new();
        if !self.eat(&Tok::Punct(')')) {
            loop {
                args.push(match self.next() {
                    Some(Tok::Word(w)) if word_literal(&w).is_none() => {
                        Tok::Word(self.property(&w)?)
                    }
                    Some(t @ (Tok::Word(_) | Tok::Str(_))) => t,
                    got => {
                        return Err(syntax(format!(
                            "expected an argument of {name}() but found {}.",
                            describe(got.as_ref())
                        )));
                    }
                });
                match self.next() {
                    Some(Tok::Punct(',')) => continue,
                    Some(Tok::Punct(')')) => break,
                    got => {
                        return Err(syntax(format!(
                            "expected ',' or ')' in {name}() but found {}.",
                            describe(got.as_ref())
                        )));
                    }
                }
            }
        }
        Ok(self.outside_lambda(startswith(name, &args)))
    }

    /// `property op value`, `property in (…)` or `collection/$count op n`.
    fn comparison(&mut self, w: &str) -> Result<Sem, FilterError> {
        self.term()?;
        if word_literal(w).is_some() {
            return Err(syntax(format!(
                "'{w}' is a value; a comparison starts with a property, e.g. userType eq 'Guest'."
            )));
        }
        let property = self.property(w)?;
        let op = match self.next() {
            Some(Tok::Word(o)) if o.eq_ignore_ascii_case("in") => {
                return self.in_list(&property);
            }
            Some(Tok::Word(o)) => match OPS.iter().find(|op| op.eq_ignore_ascii_case(&o)) {
                Some(op) => *op,
                None => {
                    return Err(unsupported(format!(
                        "'{o}' after '{property}' is not a supported operator; use eq, ne or in."
                    )));
                }
            },
            got => {
                return Err(syntax(format!(
                    "expected an operator (eq, ne, in) after '{property}' but found {}.",
                    describe(got.as_ref())
                )));
            }
        };
        let value = self.literal(&property)?;
        if let Some((collection, last)) = property.rsplit_once('/')
            && last.eq_ignore_ascii_case("$count")
        {
            let Literal::Int(n) = value else {
                return Err(syntax(format!(
                    "{property} is compared with a whole number, not {}.",
                    value.describe()
                )));
            };
            return Ok(self.outside_lambda(license_count(collection, op, n)));
        }
        Ok(match self.var {
            Some(_) => has_sku(&property, op, &value),
            None => compare(&property, op, &value),
        })
    }

    /// The list after `property in`.
    fn in_list(&mut self, property: &str) -> Result<Sem, FilterError> {
        self.expect('(', "'(' after in")?;
        if self.peek() == Some(&Tok::Punct(')')) {
            return Err(syntax(format!(
                "the list after '{property} in' is empty; give at least one value."
            )));
        }
        let mut values = Vec::new();
        loop {
            values.push(self.literal(property)?);
            self.term()?;
            match self.next() {
                Some(Tok::Punct(',')) => continue,
                Some(Tok::Punct(')')) => break,
                got => {
                    return Err(syntax(format!(
                        "expected ',' or ')' in the list after '{property} in' but found {}.",
                        describe(got.as_ref())
                    )));
                }
            }
        }
        let sem = user_field(property).and_then(|(field, kind, name)| {
            values
                .iter()
                .map(|v| user_value(name, kind, v).map(|v| UserFilter::Eq(field, v)))
                .collect::<Result<Vec<_>, _>>()
                .map(UserFilter::Or)
        });
        Ok(self.outside_lambda(sem))
    }

    fn literal(&mut self, property: &str) -> Result<Literal, FilterError> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(Literal::Str(s)),
            Some(Tok::Word(w)) => word_literal(&w).ok_or_else(|| {
                syntax(format!(
                    "'{w}' is not a value for {property}: put text in single quotes, e.g. '{w}'."
                ))
            }),
            got => Err(syntax(format!(
                "expected a value for {property} but found {}.",
                describe(got.as_ref())
            ))),
        }
    }
}

/// Parses a `$filter` expression (already URL-decoded): the outer error is a syntax error or a
/// limit, the inner result the filter on users or why it is not supported.
fn parse_filter(src: &str) -> Result<Sem, FilterError> {
    if src.chars().count() > MAX_FILTER_CHARS {
        return Err(unsupported(format!(
            "the expression is longer than {MAX_FILTER_CHARS} characters."
        )));
    }
    let toks = tokenize(src)?;
    if toks.is_empty() {
        return Err(syntax("the expression is empty."));
    }
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
        terms: 0,
        var: None,
    };
    let sem = p.or()?;
    if let Some(t) = p.peek() {
        let hint = if *t == Tok::Punct(')') {
            " (a ')' without a matching '(')"
        } else {
            ""
        };
        return Err(syntax(format!(
            "unexpected {}{hint}; join conditions with and / or.",
            describe(Some(t))
        )));
    }
    Ok(sem)
}

fn filter_error(e: FilterError, help: &str) -> AppError {
    if e.unsupported {
        invalid(
            "unsupportedFilter",
            format!("Unsupported $filter: {} {help}", e.message),
        )
    } else {
        invalid(
            "invalidFilter",
            format!("Invalid $filter: {} {help}", e.message),
        )
    }
}

/// Parses `$filter` for users; `None` is no filter.
pub fn users(filter: Option<&str>) -> Result<UserFilter, AppError> {
    match filter {
        None => Ok(UserFilter::True),
        Some(f) => parse_filter(f)
            .and_then(|sem| sem)
            .map_err(|e| filter_error(e, USER_FILTER_HELP)),
    }
}

/// Parses `$filter` for groups: `displayName eq '…'`, `startswith(displayName,'…')`,
/// `hasMembersWithLicenseErrors eq true` or `assignedLicenses/any(x:x/skuId eq <guid>)`.
pub fn groups(filter: Option<&str>) -> Result<GroupFilter, AppError> {
    let Some(f) = filter else {
        return Ok(GroupFilter::All);
    };
    let refuse = |e| filter_error(e, GROUP_FILTER_HELP);
    // Syntax first, as on users; of what users support, only the products held applies.
    let sem = parse_filter(f).map_err(refuse)?;
    let skus = |s: &UserFilter| match s {
        UserFilter::HasSku(k) => Some(vec![*k]),
        UserFilter::Or(list) => list
            .iter()
            .map(|x| match x {
                UserFilter::HasSku(k) => Some(*k),
                _ => None,
            })
            .collect(),
        _ => None,
    };
    if let Ok(s) = &sem
        && let Some(list) = skus(s)
    {
        return Ok(GroupFilter::GivingAny(list));
    }
    // Well-formed, so it is one call (in parentheses) exactly when its tokens are
    // `(`… name `(` arguments `)` `)`… with no parenthesis among the arguments.
    let toks = tokenize(f).map_err(refuse)?;
    let open = toks.iter().take_while(|t| **t == Tok::Punct('(')).count();
    let inner = toks
        .get(open..toks.len().saturating_sub(open))
        .unwrap_or_default();
    match inner {
        [Tok::Word(p), Tok::Word(op), Tok::Word(v)]
            if p.eq_ignore_ascii_case("hasMembersWithLicenseErrors")
                && op.eq_ignore_ascii_case("eq") =>
        {
            if v.eq_ignore_ascii_case("true") {
                Ok(GroupFilter::WithLicenseErrors)
            } else {
                Err(refuse(unsupported(
                    "hasMembersWithLicenseErrors can only be compared with true.",
                )))
            }
        }
        [Tok::Word(p), Tok::Word(op), Tok::Str(v)]
            if p.eq_ignore_ascii_case("displayName") && op.eq_ignore_ascii_case("eq") =>
        {
            Ok(GroupFilter::Named(v.clone()))
        }
        [Tok::Word(name), Tok::Punct('('), args @ .., Tok::Punct(')')]
            if name.eq_ignore_ascii_case("startswith")
                && !args.iter().any(|t| matches!(t, Tok::Punct('(' | ')'))) =>
        {
            match args {
                [Tok::Word(p), Tok::Punct(','), Tok::Str(s)]
                    if p.eq_ignore_ascii_case("displayName") =>
                {
                    Ok(GroupFilter::Prefix(s.clone()))
                }
                _ => Err(refuse(unsupported(
                    "startswith on groups takes displayName and quoted text.",
                ))),
            }
        }
        _ => Err(refuse(unsupported(
            "this expression is not supported on groups.",
        ))),
    }
}

// ----- paging -----

/// An opaque `$skiptoken` for keyset paging: the last id of the page.
pub fn skiptoken(last: uuid::Uuid) -> String {
    format!("K1{}", last.simple())
}

/// Reads a `$skiptoken` made by [`skiptoken`].
pub fn read_skiptoken(token: &str) -> Result<uuid::Uuid, AppError> {
    token
        .strip_prefix("K1")
        .filter(|t| t.len() == 32)
        .and_then(|t| uuid::Uuid::parse_str(t).ok())
        .ok_or_else(|| {
            invalid(
                "invalidSkipToken",
                "The $skiptoken is not valid: follow @odata.nextLink exactly as it was returned.",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uf(s: &str) -> Result<UserFilter, FilterError> {
        parse_filter(s).and_then(|sem| sem)
    }

    fn err(s: &str) -> FilterError {
        match uf(s) {
            Ok(f) => panic!("{s:?} was accepted as {f:?}"),
            Err(e) => e,
        }
    }

    const SKU: &str = "3b555118-da6a-4418-894f-7df1e2096870";

    #[test]
    fn any_sku_with_any_variable_name() {
        let want = UserFilter::HasSku(SkuId::parse(SKU).unwrap());
        assert_eq!(
            uf(&format!("assignedLicenses/any(x:x/skuId eq {SKU})")).unwrap(),
            want
        );
        assert_eq!(
            uf(&format!("assignedLicenses/any(lic: lic/skuId eq {SKU})")).unwrap(),
            want
        );
        assert_eq!(
            uf(&format!("assignedLicenses/any(s:s/skuid eq '{SKU}')")).unwrap(),
            want
        );
        let upper = SKU.to_uppercase();
        assert_eq!(
            uf(&format!("assignedLicenses/any(x:x/skuId eq {upper})")).unwrap(),
            want
        );
    }

    #[test]
    fn any_sku_or_inside_and_empty_any() {
        let f = uf(&format!(
            "assignedLicenses/any(x:x/skuId eq {SKU} or x/skuId eq {SKU})"
        ))
        .unwrap();
        assert!(matches!(f, UserFilter::Or(ref v) if v.len() == 2));
        assert_eq!(
            uf("assignedLicenses/any()").unwrap(),
            UserFilter::Not(Box::new(UserFilter::LicenseCount(0)))
        );
        let e = err(&format!(
            "assignedLicenses/any(x:x/skuId eq {SKU} and x/skuId eq {SKU})"
        ));
        assert!(e.unsupported && e.message.contains("two any(...)"), "{e:?}");
        let e = err("assignedLicenses/any(x:y/skuId eq 1)");
        assert!(e.message.contains("x/skuId"), "{e:?}");
        let e = err("assignedLicenses/any(x:x/skuId eq 'nope')");
        assert!(e.message.contains("not a GUID"), "{e:?}");
        let e = err(&format!("assignedPlans/any(x:x/servicePlanId eq {SKU})"));
        assert!(e.unsupported, "{e:?}");
        let e = err(&format!("assignedLicenses/all(x:x/skuId eq {SKU})"));
        assert!(e.unsupported, "{e:?}");
    }

    #[test]
    fn license_count() {
        assert_eq!(
            uf("assignedLicenses/$count eq 0").unwrap(),
            UserFilter::LicenseCount(0)
        );
        assert_eq!(
            uf("assignedLicenses/$count ne 0").unwrap(),
            UserFilter::Not(Box::new(UserFilter::LicenseCount(0)))
        );
        assert_eq!(
            uf("assignedLicenses/$count eq 2").unwrap(),
            UserFilter::LicenseCount(2)
        );
        assert!(err("assignedLicenses/$count gt 1").unsupported);
        assert!(!err("assignedLicenses/$count eq 'x'").unsupported);
        assert!(err("assignedPlans/$count eq 0").unsupported);
    }

    #[test]
    fn comparisons() {
        assert_eq!(
            uf("userType eq 'Guest'").unwrap(),
            UserFilter::Eq(UserField::UserType, Value::Text("Guest".into()))
        );
        assert_eq!(
            uf("userPrincipalName eq 'a@b.c'").unwrap(),
            UserFilter::Eq(UserField::UserPrincipalName, Value::Text("a@b.c".into()))
        );
        assert_eq!(
            uf("accountEnabled eq false").unwrap(),
            UserFilter::Eq(UserField::AccountEnabled, Value::Int(0))
        );
        assert_eq!(
            uf("usageLocation eq null").unwrap(),
            UserFilter::Eq(UserField::UsageLocation, Value::Null)
        );
        assert_eq!(
            uf(&format!("id eq '{}'", SKU.to_uppercase())).unwrap(),
            UserFilter::Eq(UserField::Id, Value::Text(SKU.into()))
        );
        assert!(matches!(
            uf("mail ne 'x@y.z'").unwrap(),
            UserFilter::Or(ref v) if v.len() == 2
        ));
        assert!(matches!(
            uf("userType in ('Guest', 'Member')").unwrap(),
            UserFilter::Or(ref v) if v.len() == 2
        ));
        assert!(err("displayName gt 'a'").unsupported);
        assert!(!err("accountEnabled eq 'yes'").unsupported);
        assert!(!err("displayName eq 5").unsupported);
        assert!(!err("userType in ()").unsupported);
    }

    #[test]
    fn startswith_and_other_functions() {
        assert_eq!(
            uf("startswith(displayName,'Ad')").unwrap(),
            UserFilter::StartsWith(UserField::DisplayName, "Ad".into())
        );
        assert_eq!(
            uf("startswith( mail , 'a_b%' )").unwrap(),
            UserFilter::StartsWith(UserField::Mail, "a_b%".into())
        );
        assert!(err("endswith(mail,'@contoso.com')").unsupported);
        assert!(err("contains(displayName,'a')").unsupported);
        assert!(err("startswith(accountEnabled,'t')").unsupported);
        assert!(!err("startswith(displayName)").unsupported);
        assert!(!err("startswith('x', displayName)").unsupported);
    }

    #[test]
    fn logic_and_precedence() {
        let f =
            uf("userType eq 'Guest' or userType eq 'Member' and accountEnabled eq true").unwrap();
        match f {
            UserFilter::Or(v) => assert!(matches!(v[1], UserFilter::And(_))),
            other => panic!("{other:?}"),
        }
        let f = uf("(userType eq 'Guest' or userType eq 'Member') and not(accountEnabled eq true)")
            .unwrap();
        match f {
            UserFilter::And(v) => {
                assert!(matches!(v[0], UserFilter::Or(_)));
                assert!(matches!(v[1], UserFilter::Not(_)));
            }
            other => panic!("{other:?}"),
        }
        assert!(uf("NOT (userType EQ 'Guest') AND startswith(displayName,'A')").is_ok());
    }

    #[test]
    fn string_escaping_and_injection_looking_text() {
        assert_eq!(
            uf("displayName eq 'O''Brien'").unwrap(),
            UserFilter::Eq(UserField::DisplayName, Value::Text("O'Brien".into()))
        );
        // Text that looks like SQL stays a bound value.
        let f = uf("displayName eq 'x'' OR 1=1 --'").unwrap();
        assert_eq!(
            f,
            UserFilter::Eq(UserField::DisplayName, Value::Text("x' OR 1=1 --".into()))
        );
        let f = uf("startswith(displayName,'%'' ; DROP TABLE users; --')").unwrap();
        assert_eq!(
            f,
            UserFilter::StartsWith(UserField::DisplayName, "%' ; DROP TABLE users; --".into())
        );
        // Unquoted SQL is not a value.
        assert!(uf("displayName eq x OR 1=1").is_err());
        assert!(uf("displayName eq 'a'; DROP TABLE users").is_err());
        assert!(uf("displayName eq \"a\"").is_err());
        assert!(uf("1 eq 1").is_err());
        assert!(uf("'a' eq displayName").is_err());
    }

    #[test]
    fn unbalanced_quotes_and_parens() {
        assert!(
            err("displayName eq 'abc")
                .message
                .contains("no closing quote")
        );
        assert!(
            err("displayName eq 'it''s")
                .message
                .contains("no closing quote")
        );
        assert!(err("(userType eq 'Guest'").message.contains("')'"));
        assert!(
            err("userType eq 'Guest')")
                .message
                .contains("without a matching")
        );
        assert!(
            err("startswith(displayName,'a'")
                .message
                .contains("expected")
        );
        assert!(
            err("assignedLicenses/any(x:x/skuId eq 1")
                .message
                .contains("expected")
        );
        assert!(uf("()").is_err());
        assert!(uf("").is_err());
        assert!(uf("userType eq").is_err());
        assert!(uf("userType").is_err());
        assert!(uf("and").is_err());
        assert!(uf("userType eq 'a' and").is_err());
    }

    #[test]
    fn unknown_properties() {
        let e = err("favoriteColor eq 'blue'");
        assert!(
            e.message.contains(
                "Could not find a property named 'favoriteColor' on type 'microsoft.graph.user'"
            ),
            "{e:?}"
        );
        let e = err("createdDateTime eq 'x'");
        assert!(e.message.contains("filtering on createdDateTime"), "{e:?}");
        assert!(err("manager/displayName eq 'x'").unsupported);
    }

    #[test]
    fn hostile_sizes_are_refused_not_overflowed() {
        let deep = format!(
            "{}userType eq 'Guest'{}",
            "(".repeat(10_000),
            ")".repeat(10_000)
        );
        assert!(err(&deep).unsupported);
        let nots = format!("{}userType eq 'Guest'", "not ".repeat(5_000));
        assert!(uf(&nots).is_err());
        let many = (0..150)
            .map(|i| format!("displayName eq '{i}'"))
            .collect::<Vec<_>>()
            .join(" or ");
        assert!(err(&many).unsupported);
        assert!(err(&"a".repeat(5000)).unsupported);
    }

    #[test]
    fn url_decoding() {
        assert_eq!(url_decode("a+b%20c%27").unwrap(), "a b c'");
        assert_eq!(url_decode("%24filter").unwrap(), "$filter");
        assert!(url_decode("%zz").is_err());
        assert!(url_decode("%4").is_err());
        assert!(url_decode("%ff").is_err());
        assert!(url_decode("a%00").is_err());
        assert!(url_decode("a%00").is_err());
        let q = parse_query(
            Some("%24filter=startswith(displayName%2C%27A+B%27)&%24top=5&%24skiptoken=K1x&foo=1"),
            LIST,
        )
        .unwrap();
        assert_eq!(q.filter.as_deref(), Some("startswith(displayName,'A B')"));
        assert_eq!(q.top, Some(5));
        assert_eq!(q.skiptoken.as_deref(), Some("K1x"));
        assert_eq!(
            q.keep,
            vec![
                "%24filter=startswith(displayName%2C%27A+B%27)",
                "%24top=5",
                "foo=1"
            ]
        );
    }

    #[test]
    fn percent_takes_two_hex_digits_not_a_sign() {
        // "%+b" once decoded as the control byte 0x0b.
        assert!(url_decode("%+b").is_err());
        assert!(url_decode("%-1").is_err());
        assert_eq!(url_decode("%2B+").unwrap(), "+ ");
        assert_eq!(url_decode("a%3Db%26c").unwrap(), "a=b&c");
        assert_eq!(url_decode("%EF%BF%BD\u{FFFD}").unwrap(), "\u{FFFD}\u{FFFD}");
        assert!(url_decode("%EF%BF").is_err());
        assert!(url_decode("%E2%EF%BF%BD").is_err());
    }

    #[test]
    fn query_options() {
        assert!(parse_query(Some("$top=0"), LIST).is_err());
        assert!(parse_query(Some("$top=1000"), LIST).is_err());
        assert!(parse_query(Some("$top=abc"), LIST).is_err());
        assert_eq!(parse_query(Some("$top=999"), LIST).unwrap().top, Some(999));
        assert!(parse_query(Some("$top=1&$top=2"), LIST).is_err());
        assert!(parse_query(Some("$count=maybe"), LIST).is_err());
        assert!(parse_query(Some("$count=true"), LIST).unwrap().count);
        assert!(parse_query(Some("$orderby=displayName"), LIST).is_err());
        assert!(parse_query(Some("$search=x"), LIST).is_err());
        assert!(parse_query(Some("$expand=manager"), LIST).is_err());
        assert!(parse_query(Some("$top=5"), SELECT_ONLY).is_err());
        assert!(parse_query(Some("$filter="), LIST).is_err());
        assert!(parse_query(Some("$select="), LIST).is_err());
        assert_eq!(
            parse_query(Some("$select=id,%20displayName"), LIST)
                .unwrap()
                .select,
            Some(vec!["id".to_string(), "displayName".to_string()])
        );
    }

    #[test]
    fn select_checks_names() {
        let props = &["id", "displayName", "mail"];
        assert_eq!(
            parse_select(
                &Some(vec!["DISPLAYNAME".into()]),
                props,
                "microsoft.graph.user"
            )
            .unwrap(),
            Some(vec!["displayName"])
        );
        let e = parse_select(&Some(vec!["x".into()]), props, "microsoft.graph.user").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("Could not find a property named 'x' on type 'microsoft.graph.user'.")
        );
    }

    #[test]
    fn skiptoken_round_trip() {
        let id = uuid::Uuid::new_v4();
        assert_eq!(read_skiptoken(&skiptoken(id)).unwrap(), id);
        assert!(read_skiptoken("nope").is_err());
        assert!(read_skiptoken("K1' OR 1=1").is_err());
    }

    #[test]
    fn groups_filter() {
        assert_eq!(
            groups(Some("startswith(displayName,'Eng')")).unwrap(),
            GroupFilter::Prefix("Eng".into())
        );
        assert_eq!(
            groups(Some("(displayName eq 'O''Neil Team')")).unwrap(),
            GroupFilter::Named("O'Neil Team".into())
        );
        for refused in [
            "displayName ne 'x'",
            "displayName eq x",
            "description eq 'x'",
            "displayName eq 'x' and displayName eq 'y'",
            "not(displayName eq 'x')",
        ] {
            assert!(groups(Some(refused)).is_err(), "{refused}");
        }
        assert_eq!(groups(None).unwrap(), GroupFilter::All);
        assert_eq!(
            groups(Some("hasMembersWithLicenseErrors eq true")).unwrap(),
            GroupFilter::WithLicenseErrors
        );
        assert!(groups(Some("hasMembersWithLicenseErrors eq false")).is_err());
    }
}
