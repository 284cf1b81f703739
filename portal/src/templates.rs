//! One minijinja environment for every page.
//!
//! Release builds embed the templates in the binary, so an install is one file
//! and never depends on the working directory. Debug builds read them from the
//! crate's `templates/` folder on every render, so an edit shows on reload.

use minijinja::{Environment, Value};

/// Every template, by name, with its embedded text.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("login.html", include_str!("../templates/login.html")),
    (
        "dashboard.html",
        include_str!("../templates/dashboard.html"),
    ),
    ("devices.html", include_str!("../templates/devices.html")),
    ("data.html", include_str!("../templates/data.html")),
    ("error.html", include_str!("../templates/error.html")),
    ("forgot.html", include_str!("../templates/forgot.html")),
    ("reset.html", include_str!("../templates/reset.html")),
    ("notice.html", include_str!("../templates/notice.html")),
    ("verify.html", include_str!("../templates/verify.html")),
    ("register.html", include_str!("../templates/register.html")),
    (
        "onboarding.html",
        include_str!("../templates/onboarding.html"),
    ),
    ("account.html", include_str!("../templates/account.html")),
    ("sessions.html", include_str!("../templates/sessions.html")),
    ("export.html", include_str!("../templates/export.html")),
    ("tokens.html", include_str!("../templates/tokens.html")),
    ("sharing.html", include_str!("../templates/sharing.html")),
    (
        "admin_household.html",
        include_str!("../templates/admin_household.html"),
    ),
    (
        "account_2fa.html",
        include_str!("../templates/account_2fa.html"),
    ),
    (
        "login_2fa.html",
        include_str!("../templates/login_2fa.html"),
    ),
    (
        "admin_security.html",
        include_str!("../templates/admin_security.html"),
    ),
];

/// Renders template `name` with `context`.
pub(crate) fn render(name: &str, context: Value) -> Result<String, minijinja::Error> {
    #[cfg(debug_assertions)]
    {
        from_disk().get_template(name)?.render(context)
    }
    #[cfg(not(debug_assertions))]
    {
        embedded().get_template(name)?.render(context)
    }
}

#[cfg(not(debug_assertions))]
fn embedded() -> &'static Environment<'static> {
    static ENV: std::sync::LazyLock<Environment<'static>> = std::sync::LazyLock::new(|| {
        let mut env = base_env();
        for (name, text) in TEMPLATES {
            if let Err(e) = env.add_template(name, text) {
                tracing::error!(template = name, error = %e, "embedded template does not parse");
            }
        }
        env
    });
    &ENV
}

#[cfg(debug_assertions)]
fn from_disk() -> Environment<'static> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    let mut env = base_env();
    for (name, embedded) in TEMPLATES {
        let text =
            std::fs::read_to_string(dir.join(name)).unwrap_or_else(|_| (*embedded).to_owned());
        if let Err(e) = env.add_template_owned(name.to_string(), text) {
            tracing::error!(template = name, error = %e, "template does not parse");
        }
    }
    env
}

fn base_env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    env
}
