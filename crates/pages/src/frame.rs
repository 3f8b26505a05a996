//! What every page's layout shows: who is signed in, in which organization, the navigation
//! their roles allow, and the CSRF token that the page's forms and htmx requests send back.

/// One entry of the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Home,
    Licenses,
    Products,
    Users,
    Groups,
    Audit,
    Settings,
    Account,
    /// An end user's Buy a product page.
    Buy,
    /// An end user's My products page.
    MyProducts,
    /// An end user's My requests page (license requests).
    MyRequests,
    /// The signed-in user's own Payment methods page.
    PaymentMethods,
    /// Settings → Self-service purchases.
    SelfServiceSettings,
    None,
}

impl Nav {
    /// The admin navigation: (entry, label, path).
    pub const ADMIN: [(Nav, &'static str, &'static str); 7] = [
        (Nav::Home, "Home", "/"),
        (Nav::Licenses, "Licenses", "/licenses"),
        (Nav::Products, "Your products", "/products"),
        (Nav::Users, "Active users", "/users"),
        (Nav::Groups, "Groups", "/groups"),
        (Nav::Audit, "Audit log", "/audit"),
        (Nav::Settings, "Settings", "/settings"),
    ];

    /// Whether this entry is current when `other` is the page's entry (sub-pages light up
    /// their parent).
    fn lights(self, page: Nav) -> bool {
        self == page || (self == Nav::Settings && page == Nav::SelfServiceSettings)
    }
}

/// The layout's context (`base.html`): every page template has a `frame` field.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The page's title (the `<title>` and the `<h1>`).
    pub title: String,
    /// The navigation entry that is current.
    pub nav: Nav,
    /// The signed-in user's display name and user name; empty before sign-in.
    pub user_name: String,
    pub user_upn: String,
    /// The organization's name; empty before sign-in.
    pub organization: String,
    /// Whether the navigation shows the admin pages (any admin role) or only the user's own page.
    pub admin: bool,
    /// The session's CSRF token, sent back by every form and htmx request.
    pub csrf: String,
    /// A message shown once at the top of the page (after a redirect), and whether it is an error.
    pub notice: Option<(String, bool)>,
}

impl Frame {
    /// A page seen before signing in (no navigation).
    pub fn anonymous(title: impl Into<String>, csrf: String) -> Frame {
        Frame {
            title: title.into(),
            nav: Nav::None,
            user_name: String::new(),
            user_upn: String::new(),
            organization: String::new(),
            admin: false,
            csrf,
            notice: None,
        }
    }

    /// Whether someone is signed in.
    pub fn signed_in(&self) -> bool {
        !self.user_upn.is_empty()
    }

    /// The navigation to show: (label, path, current).
    pub fn nav_items(&self) -> Vec<(&'static str, &'static str, bool)> {
        if !self.signed_in() {
            return vec![];
        }
        if self.admin {
            Nav::ADMIN
                .iter()
                .map(|(n, label, path)| (*label, *path, n.lights(self.nav)))
                .collect()
        } else {
            vec![
                ("My account", "/", self.nav == Nav::Account),
                ("Buy a product", "/buy", self.nav == Nav::Buy),
                ("My products", "/my/products", self.nav == Nav::MyProducts),
                ("My requests", "/my/requests", self.nav == Nav::MyRequests),
                (
                    "Payment methods",
                    "/my/payment-methods",
                    self.nav == Nav::PaymentMethods,
                ),
            ]
        }
    }

    /// The asset version for cache-busting URLs.
    pub fn asset_version(&self) -> &'static str {
        crate::assets::VERSION
    }
}
