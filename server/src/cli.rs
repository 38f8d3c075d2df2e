//! The administration commands of the `hearth` binary (`hearth admin …`): they work on the
//! configured database directly, so the operator can make the first administrator before the
//! server is ever exposed.

use std::io::BufRead;

use app::names::{check_password, parse_username};
use app::protocol::Role;

use crate::auth::hash_password;
use crate::config::{AdminCommand, Config};
use crate::store::Store;

/// Runs one administration command; the error is what to tell the operator.
pub async fn admin(config: &Config, command: &AdminCommand) -> Result<String, String> {
    match command {
        AdminCommand::CreateUser { name, role } => create_user(config, name, role).await,
    }
}

async fn create_user(config: &Config, name: &str, role: &str) -> Result<String, String> {
    let role = Role::parse(role)
        .ok_or_else(|| format!("unknown role {role:?}: use member, teacher or admin"))?;
    let name = parse_username(name)?;
    let password = match std::env::var("HEARTH_PASSWORD") {
        Ok(password) => password,
        Err(_) => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(|e| format!("could not read the password: {e}"))?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    check_password(&password)?;
    let hash = hash_password(&password).ok_or("could not hash the password")?;
    let store = Store::open(&config.database_url)
        .await
        .map_err(|e| format!("could not open {}: {e}", config.database_url))?;
    let created = store.create_account(&name, &hash, role, false).await;
    store.close().await;
    match created {
        Ok(Ok(account)) => Ok(format!(
            "created {} ({}), id {}",
            account.user.name,
            account.role.as_str(),
            account.user.id
        )),
        Ok(Err(_)) => Err(format!("the name {name:?} is taken")),
        Err(e) => Err(format!("could not create the account: {e}")),
    }
}
