//! Who did something, as the station's journal, its events and the
//! district's audit record it. A person at the print PC is an
//! operating-system user today; a clerk's account, a district officer or
//! a Windows account is a new variant here, not a new column or migration.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    /// An operating-system user at the print PC: the uid the operator's
    /// socket saw, and its login name where it resolves (else the uid).
    User { uid: u32, name: String },
    /// The district, by the command it sent (its id).
    District { command: i64 },
}

impl Actor {
    /// The user's uid; `None` for the district.
    pub fn uid(&self) -> Option<u32> {
        match self {
            Actor::User { uid, .. } => Some(*uid),
            Actor::District { .. } => None,
        }
    }

    /// A name for people to read: the login name, or "district".
    pub fn name(&self) -> &str {
        match self {
            Actor::User { name, .. } => name,
            Actor::District { .. } => "district",
        }
    }
}

/// A user known by uid only (its name not looked up): the uid stands for
/// the name.
impl From<u32> for Actor {
    fn from(uid: u32) -> Self {
        Actor::User { uid, name: uid.to_string() }
    }
}

impl From<&Actor> for Actor {
    fn from(a: &Actor) -> Self {
        a.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_actor_reads_back_as_itself_and_the_district_has_no_uid() {
        for a in [Actor::User { uid: 1000, name: "siti".into() }, Actor::District { command: 7 }] {
            let json = serde_json::to_string(&a).expect("json");
            assert_eq!(serde_json::from_str::<Actor>(&json).expect("back"), a, "{json}");
        }
        assert_eq!(Actor::District { command: 7 }.uid(), None);
        assert_eq!(serde_json::to_value(Actor::District { command: 7 }).expect("json")["kind"], "district");
    }
}
