//! Users and groups, read from `/etc/passwd` and `/etc/group` (the agent
//! needs names only for reports and `cetak doctor`; NSS modules such as
//! LDAP are not consulted, which is what a kelurahan PC has).

use std::path::Path;

/// A group's id and members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub gid: u32,
    pub members: Vec<String>,
}

fn lines(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split(':').map(str::to_string).collect())
        .collect()
}

/// The login name of `uid`, or the number as text.
pub fn user_name(uid: u32) -> String {
    lines(Path::new("/etc/passwd"))
        .into_iter()
        .find(|f| f.len() > 2 && f[2].parse() == Ok(uid))
        .map(|f| f[0].clone())
        .unwrap_or_else(|| uid.to_string())
}

/// A user's uid and primary gid.
pub fn user(name: &str) -> Option<(u32, u32)> {
    lines(Path::new("/etc/passwd"))
        .into_iter()
        .find(|f| f.len() > 3 && f[0] == name)
        .and_then(|f| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
}

pub fn group(name: &str) -> Option<Group> {
    lines(Path::new("/etc/group")).into_iter().find(|f| f.len() > 2 && f[0] == name).and_then(|f| {
        Some(Group {
            gid: f[2].parse().ok()?,
            members: f.get(3).map(|m| m.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect()).unwrap_or_default(),
        })
    })
}

/// Every group id `user` has: its primary `gid` and each group that lists
/// it as a member.
pub fn groups_of(user_name: &str, gid: u32) -> Vec<u32> {
    let mut ids = vec![gid];
    for f in lines(Path::new("/etc/group")) {
        if f.len() > 3 && f[3].split(',').any(|m| m == user_name) {
            ids.extend(f[2].parse::<u32>().ok());
        }
    }
    ids
}

/// Whether `user` belongs to `group` (as a member or by primary gid).
pub fn in_group(user_name: &str, group_name: &str) -> bool {
    let Some(g) = group(group_name) else { return false };
    g.members.iter().any(|m| m == user_name) || user(user_name).is_some_and(|(_, gid)| gid == g.gid)
}

#[cfg(test)]
mod tests {
    #[test]
    fn root_is_known() {
        assert_eq!(super::user_name(0), "root");
        assert_eq!(super::group("root").map(|g| g.gid), Some(0));
        assert!(super::in_group("root", "root"));
        assert!(!super::in_group("root", "no-such-group-cetak"));
    }
}
