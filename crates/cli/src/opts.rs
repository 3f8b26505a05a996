//! Command-line options. Flags that make sense in the environment can also be set by a
//! `SEATKEEPER_…` variable (shown in `--help`).

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "seatkeeper",
    version,
    about = "Self-hosted per-seat license management server",
    long_about = "Self-hosted per-seat license management server.\n\n\
        Commands act directly on the database named by --data-dir (SQLite, the default) or \
        --database-url (PostgreSQL), as the operator with Global admin rights in the organization \
        named by --tenant. They work while a server runs on the same database.\n\n\
        Start here: seatkeeper serve --demo",
    after_help = "Run 'seatkeeper <command> --help' for examples."
)]
pub struct Cli {
    #[command(flatten)]
    pub db: DbArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Where the database is, as given on the command line or in the environment. Settings not
/// given here come from the configuration file (see [`crate::config`]).
#[derive(Args, Clone)]
pub struct DbArgs {
    /// Configuration file (TOML). Default: seatkeeper.toml in the working directory, if present.
    /// Flags and SEATKEEPER_* variables override its settings.
    #[arg(long, global = true, env = "SEATKEEPER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory of the embedded SQLite database (used unless --database-url is given)
    /// [default: ./seatkeeper-data].
    #[arg(long, global = true, env = "SEATKEEPER_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL URL, e.g. postgres://seatkeeper:secret@db.internal/seatkeeper. Overrides --data-dir.
    #[arg(
        long,
        global = true,
        env = "SEATKEEPER_DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// A file holding the database URL (a secret mounted as a file), instead of --database-url.
    #[arg(long, global = true, env = "SEATKEEPER_DATABASE_URL_FILE")]
    pub database_url_file: Option<PathBuf>,
}

/// Never prints the database password.
impl std::fmt::Debug for DbArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbArgs")
            .field("config", &self.config)
            .field("data_dir", &self.data_dir)
            .field(
                "database_url",
                &self
                    .database_url
                    .as_deref()
                    .map(seatkeeper_app::database::redact_url),
            )
            .field("database_url_file", &self.database_url_file)
            .finish()
    }
}

/// The organization a command acts on.
#[derive(Args, Debug, Clone)]
pub struct TenantArg {
    /// Organization: tenant id or name, in any case (see `seatkeeper tenant list`).
    #[arg(long, env = "SEATKEEPER_TENANT")]
    pub tenant: String,
}

/// Machine-readable output.
#[derive(Args, Debug, Clone, Copy)]
pub struct JsonArg {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server.
    ///
    /// Example: seatkeeper serve --demo --listen 127.0.0.1:8080
    Serve(ServeArgs),
    /// Create or upgrade the database schema, then exit.
    ///
    /// Example: seatkeeper migrate --database-url postgres://seatkeeper@db/seatkeeper
    Migrate,
    /// Organizations (tenants).
    #[command(subcommand)]
    Tenant(TenantCmd),
    /// Bearer tokens for the APIs.
    #[command(subcommand)]
    Token(TokenCmd),
    /// The product catalog: import, show, export.
    #[command(subcommand)]
    Catalog(CatalogCmd),
    /// The operator of this server: operator tokens (they replace the catalog over HTTP) and
    /// the operator's audit log.
    #[command(subcommand)]
    Operator(crate::operator::OperatorCmd),
    /// Users of an organization: import and export CSV, list, create, delete, roles.
    #[command(subcommand)]
    Users(UsersCmd),
    /// Security groups and their members.
    #[command(subcommand)]
    Groups(GroupsCmd),
    /// Central subscriptions: buy, change the number of licenses, recurring billing, cancel.
    #[command(subcommand)]
    Subscriptions(SubscriptionsCmd),
    /// Licenses: the Licenses page, assign, unassign, export a product's users.
    #[command(subcommand)]
    Licenses(LicensesCmd),
    /// The self-service purchase policy: which products users may buy themselves.
    #[command(subcommand)]
    Policy(crate::policy::PolicyCmd),
    /// License requests: list, show one, approve or deny.
    #[command(subcommand)]
    Requests(crate::requests::RequestsCmd),
    /// Partners: users of other organizations acting for this one with delegated roles.
    #[command(subcommand)]
    Partners(crate::partners::PartnersCmd),
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Background jobs (subscription lifecycle, e-mail).
    #[command(subcommand)]
    Jobs(JobsCmd),
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address and port to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "SEATKEEPER_LISTEN")]
    pub listen: Option<String>,
    /// Load this catalog file (TOML, or JSON by extension) before serving.
    #[arg(long, env = "SEATKEEPER_CATALOG")]
    pub catalog: Option<PathBuf>,
    /// Create (or reuse) a demo organization with users, groups and subscriptions, and print how to sign in.
    #[arg(long, env = "SEATKEEPER_DEMO")]
    pub demo: bool,
    /// Let a Global admin set the clock with PUT /api/v1/dev/clock (for tests and demos).
    #[arg(long, env = "SEATKEEPER_DEV_CLOCK")]
    pub dev_clock: bool,
    /// The address people reach the server at, when a proxy in front of it ends TLS
    /// (e.g. https://licenses.example.com): session cookies are then marked Secure.
    #[arg(long, env = "SEATKEEPER_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Do not run the background jobs in this process (another process runs them).
    #[arg(long, env = "SEATKEEPER_NO_JOBS")]
    pub no_jobs: bool,
    /// Seconds a request may take before it is stopped and answered 503 [default: 60].
    #[arg(long, env = "SEATKEEPER_REQUEST_TIMEOUT")]
    pub request_timeout: Option<u64>,
    /// Requests handled at once; more wait for a slot [default: 256].
    #[arg(long, env = "SEATKEEPER_MAX_CONCURRENT_REQUESTS")]
    pub max_concurrent_requests: Option<usize>,
    #[command(flatten)]
    pub mail: MailArgs,
}

#[derive(Args, Clone)]
pub struct MailArgs {
    /// Sender address of e-mail [default: seatkeeper@localhost].
    #[arg(long, env = "SEATKEEPER_MAIL_FROM")]
    pub mail_from: Option<String>,
    /// Send e-mail by SMTP: smtp://[user:password@]host[:port][?security=none|starttls|tls].
    /// Without it, each e-mail is written as an .eml file under <data-dir>/mail.
    #[arg(long, env = "SEATKEEPER_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// A file holding the SMTP URL (a secret mounted as a file), instead of --smtp-url.
    #[arg(long, env = "SEATKEEPER_SMTP_URL_FILE")]
    pub smtp_url_file: Option<PathBuf>,
    /// Directory for .eml files when no SMTP URL is given.
    #[arg(long, env = "SEATKEEPER_MAIL_DIR")]
    pub mail_dir: Option<PathBuf>,
}

/// Never prints the SMTP password.
impl std::fmt::Debug for MailArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailArgs")
            .field("mail_from", &self.mail_from)
            .field(
                "smtp_url",
                &self
                    .smtp_url
                    .as_deref()
                    .map(seatkeeper_app::database::redact_url),
            )
            .field("smtp_url_file", &self.smtp_url_file)
            .field("mail_dir", &self.mail_dir)
            .finish()
    }
}

// ----- tenant, token -----

#[derive(Subcommand, Debug)]
pub enum TenantCmd {
    /// Create an organization and its first Global admin; prints a bearer token for them.
    ///
    /// Example: seatkeeper tenant create --name "Contoso" --admin admin@contoso.com --usage-location US --json
    Create {
        /// Name of the organization, unique on this server regardless of case.
        #[arg(long)]
        name: String,
        /// User principal name of the first Global admin.
        #[arg(long)]
        admin: String,
        /// Default usage location (ISO country code) for users who have none.
        #[arg(long)]
        usage_location: Option<String>,
        /// Billing currency (ISO 4217).
        #[arg(long, default_value = "USD")]
        currency: String,
        /// Read the admin's password from standard input (one line). Without it a password is
        /// generated and printed (`initialPassword` in JSON); it must be changed at the first
        /// sign-in.
        #[arg(long)]
        password_stdin: bool,
        /// Print one JSON object (tenantId, adminUserId, token, initialPassword, …) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List organizations.
    ///
    /// Example: seatkeeper tenant list --json
    List {
        #[command(flatten)]
        json: JsonArg,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenCmd {
    /// Issue a bearer token for a user.
    ///
    /// Example: seatkeeper token create --tenant Contoso --user admin@contoso.com --name "provisioning"
    Create {
        #[command(flatten)]
        tenant: TenantArg,
        /// User id or user principal name.
        #[arg(long)]
        user: String,
        /// A name that says what the token is for.
        #[arg(long, default_value = "cli")]
        name: String,
        /// Days until the token expires (default: never).
        #[arg(long)]
        expires_in_days: Option<i64>,
        #[arg(long)]
        json: bool,
    },
    /// List a user's tokens (never the secrets).
    ///
    /// Example: seatkeeper token list --tenant Contoso --user admin@contoso.com
    List {
        #[command(flatten)]
        tenant: TenantArg,
        /// User id or user principal name.
        #[arg(long)]
        user: String,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Revoke a token by id.
    ///
    /// Example: seatkeeper token revoke --tenant Contoso 0b6f…
    Revoke {
        #[command(flatten)]
        tenant: TenantArg,
        /// Token id (from `token list`).
        id: String,
    },
}

// ----- catalog -----

#[derive(Subcommand, Debug)]
pub enum CatalogCmd {
    /// Load a catalog file (TOML, or JSON if the name ends in .json) for every organization.
    ///
    /// The whole file is checked first: a bad file is refused with its line and the problem, and
    /// the catalog in force stays as it was. A product that an organization still has a
    /// subscription of cannot be dropped. Running servers pick the new catalog up within a second.
    /// The import is recorded in the operator's audit log (`seatkeeper operator audit`).
    ///
    /// Example: seatkeeper catalog import catalog.toml
    Import {
        /// The catalog file.
        file: PathBuf,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Show the products with their service plans, and the plans with their rules.
    ///
    /// Example: seatkeeper catalog show --json
    Show {
        #[command(flatten)]
        json: JsonArg,
    },
    /// Print the catalog file in force, exactly as it was imported.
    ///
    /// Example: seatkeeper catalog export > catalog.toml
    Export,
}

// ----- users -----

#[derive(Subcommand, Debug)]
pub enum UsersCmd {
    /// Create or update users from a CSV file.
    ///
    /// The header names the columns (any order, case-insensitive): userPrincipalName and
    /// displayName are required; givenName, surname, mail, jobTitle, department, userType
    /// (Member or Guest), usageLocation (ISO country code) and accountEnabled (true or false) are
    /// optional; id and licenses, written by `users export`, are ignored. The whole file is
    /// checked first; if any row is bad, every bad row is listed and nothing is imported. A user
    /// who already exists is an error unless --update-existing is given; then the file's
    /// non-empty cells replace that user's values (empty cells leave them as they are).
    ///
    /// The users are written by a background job (GET /api/v1/jobs/{id} shows it), which this
    /// command runs while it shows the progress, unless --no-wait is given.
    ///
    /// Example: seatkeeper users import --tenant Contoso users.csv
    Import {
        #[command(flatten)]
        tenant: TenantArg,
        /// The CSV file.
        file: PathBuf,
        /// Update users who already exist instead of refusing the file.
        #[arg(long)]
        update_existing: bool,
        /// Only queue the job (a running server imports the users) and print it.
        #[arg(long)]
        no_wait: bool,
        /// No progress bar.
        #[arg(long, short, env = "SEATKEEPER_QUIET")]
        quiet: bool,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Write every user as CSV: the import columns plus id and licenses (SKU part numbers, ';'-separated).
    ///
    /// Example: seatkeeper users export --tenant Contoso --output users.csv
    Export {
        #[command(flatten)]
        tenant: TenantArg,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// List users with their licenses.
    ///
    /// Example: seatkeeper users list --tenant Contoso --json
    List {
        #[command(flatten)]
        tenant: TenantArg,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Create one user.
    ///
    /// Example: seatkeeper users create --tenant Contoso --upn adele@contoso.com --display-name "Adele Vance" --usage-location US
    Create {
        #[command(flatten)]
        tenant: TenantArg,
        /// User principal name (sign-in name), e.g. adele@contoso.com.
        #[arg(long)]
        upn: String,
        #[arg(long)]
        display_name: String,
        #[arg(long)]
        given_name: Option<String>,
        #[arg(long)]
        surname: Option<String>,
        /// E-mail address (default: the user principal name, for members).
        #[arg(long)]
        mail: Option<String>,
        #[arg(long)]
        job_title: Option<String>,
        #[arg(long)]
        department: Option<String>,
        /// Member or Guest.
        #[arg(long, default_value = "Member")]
        user_type: String,
        /// ISO country code, e.g. US; needed before licenses can be assigned unless the organization has a default.
        #[arg(long)]
        usage_location: Option<String>,
        /// Create the account disabled (it cannot sign in or use tokens).
        #[arg(long)]
        disabled: bool,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Delete a user; their licenses are freed.
    ///
    /// Example: seatkeeper users delete --tenant Contoso adele@contoso.com
    Delete {
        #[command(flatten)]
        tenant: TenantArg,
        /// User id or user principal name.
        user: String,
    },
    /// Replace a user's admin roles.
    ///
    /// Roles: GlobalAdmin, BillingAdmin, LicenseAdmin, UserAdmin, GlobalReader; "none" removes
    /// every role.
    ///
    /// Example: seatkeeper users set-roles --tenant Contoso adele@contoso.com --roles GlobalAdmin,LicenseAdmin
    SetRoles {
        #[command(flatten)]
        tenant: TenantArg,
        /// User id or user principal name.
        user: String,
        /// Comma-separated roles, or "none".
        #[arg(long, value_delimiter = ',', required = true, num_args = 1..)]
        roles: Vec<String>,
    },
    /// Set a user's password for signing in to the admin center; ends their sessions.
    ///
    /// The password is read from standard input (one line), never from the command line. It
    /// needs 8 to 256 characters and 3 of: lower case, upper case, digits, symbols.
    ///
    /// Example: printf '%s\n' "$NEW_PASSWORD" | seatkeeper users set-password --tenant Contoso --user adele@contoso.com --password-stdin --force-change
    SetPassword {
        #[command(flatten)]
        tenant: TenantArg,
        /// User id or user principal name.
        #[arg(long)]
        user: String,
        /// Read the password from standard input (required: passwords are never arguments).
        #[arg(long, required = true)]
        password_stdin: bool,
        /// The user must choose a new password at their next sign-in.
        #[arg(long)]
        force_change: bool,
    },
}

// ----- groups -----

#[derive(Subcommand, Debug)]
pub enum GroupsCmd {
    /// List security groups.
    ///
    /// Example: seatkeeper groups list --tenant Contoso
    List {
        #[command(flatten)]
        tenant: TenantArg,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Create a security group.
    ///
    /// Example: seatkeeper groups create --tenant Contoso --name Engineering --description "All engineers"
    Create {
        #[command(flatten)]
        tenant: TenantArg,
        #[arg(long)]
        name: String,
        #[arg(long)]
        description: Option<String>,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Delete a group (its members stay).
    ///
    /// Example: seatkeeper groups delete --tenant Contoso Engineering
    Delete {
        #[command(flatten)]
        tenant: TenantArg,
        /// Group id or exact name.
        group: String,
    },
    /// Add users to a group.
    ///
    /// Example: seatkeeper groups add-member --tenant Contoso Engineering --users adele@contoso.com,alex@contoso.com
    AddMember {
        #[command(flatten)]
        tenant: TenantArg,
        /// Group id or exact name.
        group: String,
        /// Comma-separated user ids or user principal names.
        #[arg(long, value_delimiter = ',', required = true, num_args = 1..)]
        users: Vec<String>,
    },
    /// Remove users from a group.
    ///
    /// Example: seatkeeper groups remove-member --tenant Contoso Engineering --users adele@contoso.com
    RemoveMember {
        #[command(flatten)]
        tenant: TenantArg,
        /// Group id or exact name.
        group: String,
        /// Comma-separated user ids or user principal names.
        #[arg(long, value_delimiter = ',', required = true, num_args = 1..)]
        users: Vec<String>,
    },
    /// List a group's members, or add many at once (`groups members add`).
    ///
    /// Example: seatkeeper groups members --tenant Contoso Engineering --json
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Members {
        #[command(flatten)]
        tenant: Option<TenantArg>,
        /// Group id or exact name.
        #[arg(required = true)]
        group: Option<String>,
        #[command(flatten)]
        json: JsonArg,
        #[command(subcommand)]
        cmd: Option<MembersCmd>,
    },
    /// Assign products to a group, or remove them: every member holds the group's products.
    ///
    /// The members are processed in the background by the server (or, with --wait, by this
    /// command while it shows the progress).
    ///
    /// Example: seatkeeper groups assign-license --tenant Contoso Sales --add SUITE_STANDARD --disabled-plans WHITEBOARD --wait
    AssignLicense {
        #[command(flatten)]
        tenant: TenantArg,
        /// Group id or exact name.
        group: String,
        /// Comma-separated products to assign (skuPartNumber or skuId).
        #[arg(long, value_delimiter = ',')]
        add: Vec<String>,
        /// Comma-separated service plans to turn off in the products added (servicePlanName or id).
        #[arg(long, value_delimiter = ',')]
        disabled_plans: Vec<String>,
        /// Comma-separated products to remove from the group.
        #[arg(long, value_delimiter = ',')]
        remove: Vec<String>,
        /// Process the members now and show the progress until every member is done.
        #[arg(long)]
        wait: bool,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Process a group's members again (after licenses were bought or plans fixed).
    ///
    /// Example: seatkeeper groups reprocess --tenant Contoso Sales --wait
    Reprocess {
        #[command(flatten)]
        tenant: TenantArg,
        /// Group id or exact name.
        group: String,
        /// Process the members now and show the progress until every member is done.
        #[arg(long)]
        wait: bool,
        #[command(flatten)]
        json: JsonArg,
    },
    /// List the members of a group whose licenses from it are in error, with the reason.
    ///
    /// Example: seatkeeper groups license-errors --tenant Contoso Sales
    LicenseErrors {
        #[command(flatten)]
        tenant: TenantArg,
        /// Group id or exact name.
        group: String,
        #[command(flatten)]
        json: JsonArg,
    },
}

#[derive(Subcommand, Debug)]
pub enum MembersCmd {
    /// Add the users of a file to a group: one user principal name or id per line (a header
    /// line userPrincipalName or id is skipped), every line checked before anything changes.
    /// Each gets the group's products.
    ///
    /// Example: seatkeeper groups members add --tenant Contoso --group Sales --file members.csv --wait
    Add {
        #[command(flatten)]
        tenant: TenantArg,
        /// Group id or exact name.
        #[arg(long)]
        group: String,
        /// The file (CSV: the first column is read).
        #[arg(long)]
        file: PathBuf,
        /// Process the members now and show the progress until every member is done.
        #[arg(long)]
        wait: bool,
        #[command(flatten)]
        json: JsonArg,
    },
}

// ----- subscriptions -----

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Billing {
    Monthly,
    Annual,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnOff {
    On,
    Off,
}

#[derive(Subcommand, Debug)]
pub enum SubscriptionsCmd {
    /// List subscriptions (the Products page: one row per subscription).
    ///
    /// Example: seatkeeper subscriptions list --tenant Contoso
    List {
        #[command(flatten)]
        tenant: TenantArg,
        /// Include deleted subscriptions.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Buy licenses of a product for the organization.
    ///
    /// Example: seatkeeper subscriptions buy --tenant Contoso --sku SUITE_STANDARD --quantity 25 --billing annual
    Buy {
        #[command(flatten)]
        tenant: TenantArg,
        /// Product: SKU id or part number (see `seatkeeper catalog show`).
        #[arg(long)]
        sku: String,
        /// Number of licenses.
        #[arg(long)]
        quantity: i64,
        /// Billing frequency; the term is one month or one year.
        #[arg(long, value_enum, default_value = "monthly")]
        billing: Billing,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Set a subscription's total number of licenses (you have 100 and want 5 more: enter 105).
    ///
    /// Any number of licenses can be removed within 7 days of purchase or renewal; after that
    /// only those added in the last 7 days. Never below the number assigned.
    ///
    /// Example: seatkeeper subscriptions set-quantity --tenant Contoso SUITE_STANDARD --quantity 30
    SetQuantity {
        #[command(flatten)]
        tenant: TenantArg,
        /// Subscription id, or the product's part number if the organization has one subscription of it.
        subscription: String,
        /// The new total.
        #[arg(long)]
        quantity: i64,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Turn recurring billing on or off.
    ///
    /// Example: seatkeeper subscriptions recurring --tenant Contoso SUITE_STANDARD off
    Recurring {
        #[command(flatten)]
        tenant: TenantArg,
        /// Subscription id, or the product's part number if the organization has one subscription of it.
        subscription: String,
        #[arg(value_enum)]
        state: OnOff,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Cancel a subscription.
    ///
    /// Within 7 days of purchase or renewal it is disabled at once with a prorated refund;
    /// after that, recurring billing turns off and it runs to the end of its term.
    /// Reasons: NoLongerNeeded, TooExpensive, SwitchingToAnotherProduct, MissingFeatures,
    /// BoughtByMistake, Other, or your own words.
    ///
    /// Example: seatkeeper subscriptions cancel --tenant Contoso SUITE_STANDARD --reason NoLongerNeeded
    Cancel {
        #[command(flatten)]
        tenant: TenantArg,
        /// Subscription id, or the product's part number if the organization has one subscription of it.
        subscription: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Reactivate an expired or disabled subscription.
    ///
    /// Example: seatkeeper subscriptions reactivate --tenant Contoso 3f1c…
    Reactivate {
        #[command(flatten)]
        tenant: TenantArg,
        /// Subscription id, or the product's part number if the organization has one subscription of it.
        subscription: String,
        #[command(flatten)]
        json: JsonArg,
    },
}

// ----- licenses -----

#[derive(Subcommand, Debug)]
pub enum LicensesCmd {
    /// The Licenses page: one row per product with assigned, total and available licenses.
    ///
    /// Example: seatkeeper licenses list --tenant Contoso
    List {
        #[command(flatten)]
        tenant: TenantArg,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Assign a product to up to 20 users at once; all of them get it or none does.
    ///
    /// Users who already hold the product keep it; --disable sets which of its service plans
    /// stay off (plan names or ids).
    ///
    /// Example: seatkeeper licenses assign --tenant Contoso --sku SUITE_STANDARD --users adele@contoso.com,alex@contoso.com --disable WHITEBOARD
    Assign {
        #[command(flatten)]
        tenant: TenantArg,
        /// Product: SKU id or part number.
        #[arg(long)]
        sku: String,
        /// Comma-separated user ids or user principal names (at most 20).
        #[arg(long, value_delimiter = ',', required = true, num_args = 1..)]
        users: Vec<String>,
        /// Comma-separated service plans (names or ids) to turn off.
        #[arg(long, value_delimiter = ',', num_args = 1..)]
        disable: Vec<String>,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Remove a product from up to 20 users at once.
    ///
    /// Example: seatkeeper licenses unassign --tenant Contoso --sku SUITE_STANDARD --users adele@contoso.com
    Unassign {
        #[command(flatten)]
        tenant: TenantArg,
        /// Product: SKU id or part number.
        #[arg(long)]
        sku: String,
        /// Comma-separated user ids or user principal names (at most 20).
        #[arg(long, value_delimiter = ',', required = true, num_args = 1..)]
        users: Vec<String>,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Export the users holding a product as CSV, with their plans and how they got it.
    ///
    /// Example: seatkeeper licenses users --tenant Contoso --sku SUITE_STANDARD --output suite-users.csv
    Users {
        #[command(flatten)]
        tenant: TenantArg,
        /// Product: SKU id or part number.
        #[arg(long)]
        sku: String,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Write JSON instead of CSV.
        #[arg(long)]
        json: bool,
    },
}

// ----- audit, jobs -----

#[derive(Subcommand, Debug)]
pub enum AuditCmd {
    /// Export the audit log as CSV, newest first.
    ///
    /// Example: seatkeeper audit export --tenant Contoso --action license. --since 2030-01-01T00:00:00Z --output audit.csv
    Export {
        #[command(flatten)]
        tenant: TenantArg,
        /// Only actions starting with this, e.g. "license." or "subscription.cancel".
        #[arg(long)]
        action: Option<String>,
        /// Only entries at or after this time (RFC 3339, e.g. 2030-01-01T00:00:00Z).
        #[arg(long)]
        since: Option<String>,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Write JSON instead of CSV.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum JobsCmd {
    /// Run the background jobs once for the current time (subscription lifecycle, then e-mail)
    /// and print what they did. A running server does this every second by itself.
    ///
    /// Example: seatkeeper jobs run
    Run {
        #[command(flatten)]
        mail: MailArgs,
        #[command(flatten)]
        json: JsonArg,
    },
}
