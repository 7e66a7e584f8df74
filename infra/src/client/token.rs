//! `infra token`: a fresh Cognito **access** token for a user of the stack: the bearer token the
//! runtime's JWT authorizer accepts. (An ID token carries `aud`, not `client_id`, so AgentCore
//! refuses it when the authorizer lists allowed clients.)
//!
//! The user signs in through the stack's app client with the password from its environment
//! variable. With `--refresh-token-file`, a refresh token is kept in a file the user names, and
//! later runs renew the access token from it without a password. That file is never a symbolic
//! link nor inside a git work tree (its directory's links resolved first), and is only ever
//! replaced whole, by a new file of mode 600 renamed over it ([`TokenFile`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, AuthenticationResultType};

use crate::aws::Aws;
use crate::engine::{Error, Prepared, ReadContext, WriteOnly};
use crate::registry::KINDS;
use crate::resources::cognito_client::{Client, LiveClient};
use crate::resources::cognito_pool::UserPool;
use crate::resources::cognito_user::User;
use crate::resources::cognito_user::section::UserSpec;
use crate::sensitive::Sensitive;
use crate::stack::Stack;

const WHAT: &str = "token";

/// The stack's app client, as deployed.
#[derive(Debug, Clone)]
pub struct AppClient {
    pub pool_id: String,
    pub client: LiveClient,
}

/// What a sign-in gives.
pub struct Tokens {
    pub access: Sensitive<String>,
    pub refresh: Option<Sensitive<String>>,
}

/// The declared user named `name`, or the first declared user.
pub fn user<'a>(stack: &'a Stack, name: Option<&str>) -> Result<&'a UserSpec, Error> {
    let declared = || {
        stack
            .all::<User>()
            .map(|u| u.username.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match name {
        Some(name) => stack
            .all::<User>()
            .find(|u| u.username == name)
            .ok_or_else(|| {
                Error::new(
                    WHAT,
                    "--user",
                    format!(
                        "{} declares no user {name:?} (declared: {})",
                        stack.path.display(),
                        declared()
                    ),
                )
            }),
        None => stack.all::<User>().next().ok_or_else(|| {
            Error::new(
                WHAT,
                "--user",
                format!(
                    "{} declares no [[cognito.users]]: add one, or pass a token of your own",
                    stack.path.display()
                ),
            )
        }),
    }
}

/// The deployed pool and app client of the stack (reads only those).
pub async fn app_client(aws: &Aws, stack: &Stack) -> Result<AppClient, Error> {
    let (Some(pool_spec), Some(client_spec)) = (stack.one::<UserPool>(), stack.one::<Client>())
    else {
        return Err(Error::new(
            WHAT,
            "stack",
            format!(
                "{} declares no [cognito.user_pool] and [cognito.client]",
                stack.path.display()
            ),
        ));
    };
    let prepared = Prepared::default();
    let cx = ReadContext::new(aws, stack, WriteOnly::Skip, &prepared, KINDS);
    let not_deployed = |what: &str| {
        Error::new(
            WHAT,
            "read",
            format!("{what} does not exist (yet): run `infra apply` first"),
        )
    };
    let pool_id = cx
        .id_of::<UserPool>()
        .await?
        .ok_or_else(|| not_deployed(&format!("the user pool {:?}", pool_spec.name)))?;
    let client = cx
        .get::<Client>()
        .await?
        .found()
        .ok_or_else(|| not_deployed(&format!("the app client {:?}", client_spec.name)))?;
    Ok(AppClient {
        pool_id,
        client: client.clone(),
    })
}

/// Sign `user` in with the password from its environment variable.
pub async fn sign_in(aws: &Aws, app: &AppClient, user: &UserSpec) -> Result<Tokens, Error> {
    let addr = format!("user {:?}", user.username);
    let Some(password) = &user.password else {
        return Err(Error::new(
            &addr,
            "sign in",
            format!(
                "${} is not set: export the user's password in it (or use --refresh-token-file \
                 with a saved refresh token)",
                user.password_env
            ),
        ));
    };
    if app.client.has_secret {
        return Err(Error::new(
            &addr,
            "sign in",
            "the app client has a secret; infra signs in only through clients without one",
        ));
    }
    let result = if app.client.allows("ALLOW_USER_PASSWORD_AUTH") {
        aws.cognito
            .initiate_auth()
            .client_id(&app.client.id)
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", &user.username)
            .auth_parameters("PASSWORD", password.expose())
            .send()
            .await
            .map(|out| (out.challenge_name().cloned(), out.authentication_result))
            .map_err(|e| Error::aws(&addr, "InitiateAuth", e))?
    } else if app.client.allows("ALLOW_ADMIN_USER_PASSWORD_AUTH") {
        aws.cognito
            .admin_initiate_auth()
            .user_pool_id(&app.pool_id)
            .client_id(&app.client.id)
            .auth_flow(AuthFlowType::AdminUserPasswordAuth)
            .auth_parameters("USERNAME", &user.username)
            .auth_parameters("PASSWORD", password.expose())
            .send()
            .await
            .map(|out| (out.challenge_name().cloned(), out.authentication_result))
            .map_err(|e| Error::aws(&addr, "AdminInitiateAuth", e))?
    } else {
        return Err(Error::new(
            &addr,
            "sign in",
            "the app client allows neither ALLOW_USER_PASSWORD_AUTH nor \
             ALLOW_ADMIN_USER_PASSWORD_AUTH: add one to explicit_auth_flows",
        ));
    };
    match result {
        (None, Some(tokens)) => tokens_of(&addr, tokens),
        (Some(challenge), _) => Err(Error::new(
            &addr,
            "sign in",
            format!(
                "Cognito asks for the {} challenge; `infra apply` sets the declared password \
                 (NEW_PASSWORD_REQUIRED), other challenges (MFA) need an interactive sign-in",
                challenge.as_str()
            ),
        )),
        (None, None) => Err(Error::new(&addr, "sign in", "Cognito returned no tokens")),
    }
}

/// New tokens from a refresh token (no password).
pub async fn refresh(aws: &Aws, app: &AppClient, refresh_token: &str) -> Result<Tokens, Error> {
    let out = aws
        .cognito
        .initiate_auth()
        .client_id(&app.client.id)
        .auth_flow(AuthFlowType::RefreshTokenAuth)
        .auth_parameters("REFRESH_TOKEN", refresh_token)
        .send()
        .await
        .map_err(|e| Error::aws(WHAT, "InitiateAuth REFRESH_TOKEN_AUTH", e))?;
    let tokens = out
        .authentication_result
        .ok_or_else(|| Error::new(WHAT, "refresh", "Cognito returned no tokens"))?;
    tokens_of(WHAT, tokens)
}

fn tokens_of(addr: &str, tokens: AuthenticationResultType) -> Result<Tokens, Error> {
    let access = tokens
        .access_token
        .ok_or_else(|| Error::new(addr, "sign in", "Cognito returned no access token"))?;
    Ok(Tokens {
        access: Sensitive::new(access),
        refresh: tokens.refresh_token.map(Sensitive::new),
    })
}

/// An access token for `user`: from the refresh token in `file` when it holds a valid one,
/// else by signing in (and then the new refresh token is kept in `file`).
pub async fn access_token(
    aws: &Aws,
    app: &AppClient,
    user: &UserSpec,
    file: Option<&Path>,
) -> Result<Sensitive<String>, Error> {
    let Some(file) = file else {
        return Ok(sign_in(aws, app, user).await?.access);
    };
    let file = TokenFile::resolve(file)?;
    if let Some(saved) = file.read()? {
        if let Some(mode) = saved.was_open {
            eprintln!(
                "note: {} was open to group or others (mode {mode:03o}); the refresh token was \
                 read from it and the file replaced by one only you can read (mode 600)",
                file.given.display()
            );
        }
        if let Some(token) = saved.token {
            match refresh(aws, app, token.expose()).await {
                Ok(tokens) => return Ok(tokens.access),
                // Expired or revoked: sign in again below, when a password is available.
                Err(e) if e.code_is("NotAuthorizedException") && user.password.is_some() => {}
                Err(e) => return Err(e),
            }
        }
    }
    let tokens = sign_in(aws, app, user).await?;
    if let Some(refresh) = &tokens.refresh {
        file.save(refresh.expose())?;
    }
    Ok(tokens.access)
}

/// The refresh-token file: a regular file (never a symbolic link) outside any git work tree,
/// replaced atomically by a file only its owner can read.
#[derive(Debug)]
pub struct TokenFile {
    /// The path as given, made absolute: what messages show.
    given: PathBuf,
    /// The same file with every symbolic link of its directory resolved: what is read and
    /// written.
    path: PathBuf,
}

/// What a refresh-token file held.
pub struct Saved {
    /// The token (`None` when the file is empty).
    pub token: Option<Sensitive<String>>,
    /// The file's mode when it was open to group or others (it has been replaced by a private
    /// file since).
    pub was_open: Option<u32>,
}

/// More than any refresh token (Cognito's are about 2 KB): a file this long holds something else.
const MAX_TOKEN_FILE: u64 = 64 * 1024;

impl TokenFile {
    /// Resolve `path`: its directory with symbolic links resolved (directories not made yet
    /// taken as named), then refused when the file is a symbolic link or not a regular file,
    /// or when it lies inside a git work tree: a token that mints access tokens for weeks must
    /// not end up in a commit.
    pub fn resolve(path: &Path) -> Result<TokenFile, Error> {
        let refuse = |message: String| Error::new(WHAT, "--refresh-token-file", message);
        let given =
            std::path::absolute(path).map_err(|e| refuse(format!("{}: {e}", path.display())))?;
        let (Some(name), Some(dir)) = (given.file_name(), given.parent()) else {
            return Err(refuse(format!(
                "{} names no file: pass the path of a file (e.g. ~/.config/infra/refresh-token)",
                given.display()
            )));
        };
        let dir = resolve_dir(dir).map_err(|e| refuse(format!("{}: {e}", dir.display())))?;
        let path = dir.join(name);
        let file = TokenFile { given, path };
        match std::fs::symlink_metadata(&file.path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = std::fs::read_link(&file.path)
                    .map(|t| format!(" (to {})", t.display()))
                    .unwrap_or_default();
                return Err(refuse(format!(
                    "{} is a symbolic link{target}; a refresh token is written only to a regular \
                     file, never through a link: pass the path of the file itself",
                    file.shown()
                )));
            }
            Ok(meta) if meta.is_dir() => {
                return Err(refuse(format!(
                    "{} is a directory: pass the path of a file in it (e.g. {})",
                    file.shown(),
                    file.given.join("refresh-token").display()
                )));
            }
            Ok(meta) if !meta.is_file() => {
                return Err(refuse(format!("{} is not a regular file", file.shown())));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(refuse(format!("{}: {e}", file.shown()))),
        }
        if let Some(repo) = file
            .path
            .ancestors()
            .skip(1)
            .find(|dir| dir.join(".git").exists())
        {
            return Err(refuse(format!(
                "{} is inside the git work tree {}; keep refresh tokens outside any repository \
                 (e.g. ~/.config/infra/refresh-token)",
                file.shown(),
                repo.display()
            )));
        }
        Ok(file)
    }

    /// The path as given, and where it really is when a symbolic link leads elsewhere.
    fn shown(&self) -> String {
        if self.path == self.given {
            self.given.display().to_string()
        } else {
            format!("{} (really {})", self.given.display(), self.path.display())
        }
    }

    fn fail(&self, e: std::io::Error) -> Error {
        Error::new(
            WHAT,
            "--refresh-token-file",
            format!("{}: {e}", self.shown()),
        )
    }

    /// The saved token, `None` when there is no file. A file open to group or others is
    /// replaced by a private one right away (`was_open` says so).
    pub fn read(&self) -> Result<Option<Saved>, Error> {
        use std::io::Read;
        let mut f = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.fail(e)),
        };
        // What was opened must be what `resolve` checked: not a link or a file put there since.
        let opened = f.metadata().map_err(|e| self.fail(e))?;
        let named = std::fs::symlink_metadata(&self.path).map_err(|e| self.fail(e))?;
        if !opened.is_file() || named.file_type().is_symlink() || !private::same(&opened, &named) {
            return Err(Error::new(
                WHAT,
                "--refresh-token-file",
                format!(
                    "{} changed while it was read (a link or another file was put there); \
                     nothing was read",
                    self.shown()
                ),
            ));
        }
        let mut text = String::new();
        (&mut f)
            .take(MAX_TOKEN_FILE + 1)
            .read_to_string(&mut text)
            .map_err(|e| self.fail(e))?;
        if text.len() as u64 > MAX_TOKEN_FILE {
            return Err(Error::new(
                WHAT,
                "--refresh-token-file",
                format!(
                    "{} is larger than {MAX_TOKEN_FILE} bytes: it holds something other than a \
                     refresh token",
                    self.shown()
                ),
            ));
        }
        let was_open = private::open_mode(&opened);
        if let Some(mode) = was_open {
            self.replace(&text).map_err(|e| {
                Error::new(
                    WHAT,
                    "--refresh-token-file",
                    format!(
                        "{} is open to group or others (mode {mode:03o}) and could not be \
                         replaced by a file only you can read: {e}",
                        self.shown()
                    ),
                )
            })?;
        }
        let token = text.trim();
        Ok(Some(Saved {
            token: (!token.is_empty()).then(|| Sensitive::new(token.to_owned())),
            was_open,
        }))
    }

    /// Replace the file with one holding `token`, readable by its owner only: written to a new
    /// file in the same directory (mode 600), flushed to disk, then renamed over the old one, so
    /// the file is never seen half-written and a link or another name of the old file is never
    /// written through. A failure removes the new file.
    pub fn save(&self, token: &str) -> Result<(), Error> {
        self.replace(token).map_err(|e| self.fail(e))
    }

    fn replace(&self, token: &str) -> std::io::Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("/"));
        private::create_dir_all(dir)?;
        let (temp, mut f) = self.temporary()?;
        let written = f
            .write_all(token.as_bytes())
            .and_then(|()| f.sync_all())
            .and_then(|()| std::fs::rename(&temp, &self.path));
        drop(f);
        if let Err(e) = written {
            let _ = std::fs::remove_file(&temp);
            return Err(e);
        }
        // The rename itself, on disk (best effort: not every file system syncs a directory).
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// A new, empty, private file beside the token file (`.NAME.PID.N.tmp`), never an existing
    /// one.
    fn temporary(&self) -> std::io::Result<(PathBuf, std::fs::File)> {
        let dir = self.path.parent().unwrap_or(Path::new("/"));
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let mut last = None;
        for attempt in 0..100u32 {
            let temp = dir.join(format!(
                ".{name}.{}.{}.tmp",
                std::process::id(),
                seed.wrapping_add(attempt)
            ));
            match private::create_new(&temp) {
                Ok(f) => return Ok((temp, f)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("no free temporary name")))
    }
}

/// `dir` with its symbolic links resolved: the longest part that exists, canonicalized, then
/// the rest as named (`create_dir_all` makes those as plain directories).
fn resolve_dir(dir: &Path) -> std::io::Result<PathBuf> {
    use std::path::Component;
    let mut rest = Vec::new();
    let mut existing = dir;
    loop {
        match existing.canonicalize() {
            Ok(mut real) => {
                for part in rest.iter().rev() {
                    match part {
                        Component::ParentDir => {
                            real.pop();
                        }
                        Component::Normal(name) => real.push(name),
                        _ => {}
                    }
                }
                return Ok(real);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let (Some(last), Some(parent)) =
                    (existing.components().next_back(), existing.parent())
                else {
                    return Err(e);
                };
                rest.push(last);
                existing = parent;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Owner-only files and directories, where the platform has modes.
#[cfg(unix)]
mod private {
    use std::fs::{DirBuilder, File, Metadata, OpenOptions, Permissions};
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
    use std::path::Path;

    /// A new file (never an existing one, nor through a link), mode 600 whatever the umask.
    pub fn create_new(path: &Path) -> std::io::Result<File> {
        let f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)?;
        f.set_permissions(Permissions::from_mode(0o600))?;
        Ok(f)
    }

    /// Missing directories made mode 700.
    pub fn create_dir_all(dir: &Path) -> std::io::Result<()> {
        DirBuilder::new().recursive(true).mode(0o700).create(dir)
    }

    /// The file's mode when group or others have any access to it.
    pub fn open_mode(meta: &Metadata) -> Option<u32> {
        let mode = meta.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then_some(mode)
    }

    pub fn same(a: &Metadata, b: &Metadata) -> bool {
        (a.dev(), a.ino()) == (b.dev(), b.ino())
    }
}

#[cfg(not(unix))]
mod private {
    use std::fs::{File, Metadata, OpenOptions};
    use std::path::Path;

    pub fn create_new(path: &Path) -> std::io::Result<File> {
        OpenOptions::new().write(true).create_new(true).open(path)
    }

    pub fn create_dir_all(dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)
    }

    pub fn open_mode(_: &Metadata) -> Option<u32> {
        None
    }

    pub fn same(_: &Metadata, _: &Metadata) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    /// The names in `dir`, sorted.
    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn git_init(dir: &Path) {
        let out = std::process::Command::new("git")
            .args(["init", "--quiet"])
            .arg(dir)
            .output()
            .expect("git is installed");
        assert!(out.status.success(), "{out:?}");
    }

    #[test]
    fn a_file_others_can_read_is_replaced_by_a_private_one_holding_the_same_token() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("refresh-token");
        std::fs::write(&path, "saved-refresh-token\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();

        let file = TokenFile::resolve(&path).unwrap();
        let saved = file.read().unwrap().expect("the file exists");
        assert_eq!(saved.was_open, Some(0o644));
        assert_eq!(
            saved.token.as_ref().map(|t| t.expose().as_str()),
            Some("saved-refresh-token")
        );
        assert_eq!(mode(&path), 0o600);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "saved-refresh-token\n"
        );
        assert_eq!(
            names(dir.path()),
            ["refresh-token"],
            "no temporary file left"
        );

        // A private file is read as it is.
        let again = file.read().unwrap().unwrap();
        assert_eq!(again.was_open, None);
    }

    #[test]
    fn a_new_file_and_its_new_directories_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("infra/tokens/refresh-token");
        let file = TokenFile::resolve(&path).unwrap();
        assert!(file.read().unwrap().is_none());
        file.save("first").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "first");
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir.path().join("infra")), 0o700);
        assert_eq!(names(&dir.path().join("infra/tokens")), ["refresh-token"]);
    }

    #[test]
    fn a_symbolic_link_is_refused_and_its_target_left_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, "not a token").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
        let link = dir.path().join("refresh-token");
        std::os::unix::fs::symlink(&target, &link).unwrap();

        let refused = TokenFile::resolve(&link).unwrap_err().to_string();
        assert!(refused.contains("is a symbolic link (to "), "{refused}");
        assert!(refused.contains(&link.display().to_string()), "{refused}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "not a token");
        assert_eq!(mode(&target), 0o644);
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());

        // A dangling link too: nothing is created at its target.
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        assert!(TokenFile::resolve(&dangling).is_err());
        assert!(!dir.path().join("nowhere").exists());
    }

    #[test]
    fn a_path_through_a_linked_directory_into_a_git_work_tree_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(repo.join("config")).unwrap();
        git_init(&repo);
        let outside = dir.path().join("home");
        std::fs::create_dir_all(&outside).unwrap();
        let link = outside.join("config");
        std::os::unix::fs::symlink(repo.join("config"), &link).unwrap();

        for path in [
            link.join("refresh-token"),
            link.join("new/dir/refresh-token"),
        ] {
            let refused = TokenFile::resolve(&path).unwrap_err().to_string();
            assert!(
                refused.contains(&format!(
                    "is inside the git work tree {}",
                    repo.canonicalize().unwrap().display()
                )),
                "{refused}"
            );
            assert!(refused.contains("(really "), "{refused}");
        }
        // The direct path, as before; a path outside is accepted.
        assert!(TokenFile::resolve(&repo.join("config/refresh-token")).is_err());
        assert!(TokenFile::resolve(&outside.join("refresh-token")).is_ok());
        assert_eq!(names(&repo.join("config")), Vec::<String>::new());
    }

    #[test]
    fn saving_replaces_the_file_rather_than_writing_into_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("refresh-token");
        std::fs::write(&path, "old").unwrap();
        // Another name of the old file: a write into the file would show through it.
        let other = dir.path().join("other-name");
        std::fs::hard_link(&path, &other).unwrap();
        let before = std::fs::metadata(&path).unwrap().ino();

        let file = TokenFile::resolve(&path).unwrap();
        file.save("new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(std::fs::read_to_string(&other).unwrap(), "old");
        assert_ne!(std::fs::metadata(&path).unwrap().ino(), before);
        assert_eq!(mode(&path), 0o600);
        assert_eq!(names(dir.path()), ["other-name", "refresh-token"]);
    }

    #[test]
    fn the_new_file_is_made_private_beside_the_old_one_and_removed_when_the_rename_fails() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("refresh-token");
        let file = TokenFile::resolve(&path).unwrap();

        let (temp, _f) = file.temporary().unwrap();
        assert_eq!(temp.parent(), Some(dir.path()));
        assert_eq!(mode(&temp), 0o600);
        let (second, _g) = file.temporary().unwrap();
        assert_ne!(temp, second, "never an existing file");
        std::fs::remove_file(&temp).unwrap();
        std::fs::remove_file(&second).unwrap();

        // A directory took the file's place after it was resolved: the rename fails, and the
        // new file does not stay behind.
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("keep"), "x").unwrap();
        let failed = file.save("s3cret-refresh").unwrap_err().to_string();
        assert!(failed.contains(&path.display().to_string()), "{failed}");
        assert!(!failed.contains("s3cret"), "{failed}");
        assert_eq!(names(dir.path()), ["refresh-token"]);
        assert_eq!(names(&path), ["keep"]);
    }

    #[test]
    fn a_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let refused = TokenFile::resolve(dir.path()).unwrap_err().to_string();
        assert!(refused.contains("is a directory"), "{refused}");
    }
}
