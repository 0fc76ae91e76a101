//! Users' tiers and what each may do, exactly as the seed's authorization matrix gives
//! them (ARCHITECTURE.md, "Access"): rate limits, GPU access, user management and control
//! of the Admin agent itself.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A user's tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// The free tier: no GPU, Simple indexing, 10 requests an hour.
    Free,
    /// Small GPUs, Vector indexing when recommended, 50 requests an hour.
    Advanced,
    /// Large GPUs, the best indexer, 200 requests an hour.
    Premium,
    /// Medium GPUs, always Vector indexing, 100 requests an hour.
    Tester,
    /// Large GPUs, user management and admin functions, 1000 requests an hour.
    Admin,
    /// Everything, including the Admin agent itself, 10000 requests an hour. The local CLI
    /// acts with this tier: it runs as the machine's owner.
    Developer,
}

impl Tier {
    /// Every tier, in the seed's order.
    pub const ALL: [Tier; 6] = [
        Tier::Free,
        Tier::Advanced,
        Tier::Premium,
        Tier::Tester,
        Tier::Admin,
        Tier::Developer,
    ];

    /// The Developer tier: the local CLI's, as the machine's owner (a serde default).
    pub fn developer() -> Tier {
        Tier::Developer
    }

    /// The tier's name, as the CLI and the API spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Free => "free",
            Tier::Advanced => "advanced",
            Tier::Premium => "premium",
            Tier::Tester => "tester",
            Tier::Admin => "admin",
            Tier::Developer => "developer",
        }
    }

    /// Requests an hour the tier may make.
    pub fn requests_per_hour(self) -> u32 {
        match self {
            Tier::Free => 10,
            Tier::Advanced => 50,
            Tier::Premium => 200,
            Tier::Tester => 100,
            Tier::Admin => 1_000,
            Tier::Developer => 10_000,
        }
    }

    /// The GPUs the tier may use.
    pub fn gpu(self) -> GpuAccess {
        match self {
            Tier::Free => GpuAccess::None,
            Tier::Advanced => GpuAccess::Small,
            Tier::Tester => GpuAccess::Medium,
            Tier::Premium | Tier::Admin | Tier::Developer => GpuAccess::Large,
        }
    }

    /// Whether the tier may manage users and use the admin functions.
    pub fn manages_users(self) -> bool {
        matches!(self, Tier::Admin | Tier::Developer)
    }

    /// Whether the tier may control the Admin agent itself: spawn, stop, restart and
    /// checkpoint.
    pub fn controls_admin(self) -> bool {
        self == Tier::Developer
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A tier name that is not one of the six.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown tier {0:?}: use free, advanced, premium, tester, admin or developer")]
pub struct UnknownTier(pub String);

impl FromStr for Tier {
    type Err = UnknownTier;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Tier::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownTier(s.to_string()))
    }
}

/// The GPUs a tier may use. The seed names the sizes; here they are bounds on the VRAM an
/// agent may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GpuAccess {
    /// No GPU at all.
    None,
    /// Up to [`GpuAccess::SMALL_MIB`] of VRAM.
    Small,
    /// Up to [`GpuAccess::MEDIUM_MIB`] of VRAM.
    Medium,
    /// Any GPU.
    Large,
}

impl GpuAccess {
    /// The most VRAM a small GPU grant covers: 8 GiB.
    pub const SMALL_MIB: u64 = 8 * 1024;
    /// The most VRAM a medium GPU grant covers: 24 GiB.
    pub const MEDIUM_MIB: u64 = 24 * 1024;

    /// The most VRAM the grant covers, in MiB (`None` for no bound).
    pub fn max_vram_mib(self) -> Option<u64> {
        match self {
            GpuAccess::None => Some(0),
            GpuAccess::Small => Some(Self::SMALL_MIB),
            GpuAccess::Medium => Some(Self::MEDIUM_MIB),
            GpuAccess::Large => None,
        }
    }

    /// Whether an agent that needs a GPU (`gpu`) with at least `vram_mib` of VRAM may have
    /// one under this grant.
    ///
    /// # Errors
    /// Why not, in words.
    pub fn allows(self, gpu: bool, vram_mib: u64) -> Result<(), String> {
        if !gpu && vram_mib == 0 {
            return Ok(());
        }
        match self.max_vram_mib() {
            Some(0) => Err("the tier has no GPU access".into()),
            Some(max) if vram_mib > max => Err(format!(
                "the tier's GPU access is {self} (up to {max} MiB of VRAM), {vram_mib} MiB needed"
            )),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for GpuAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GpuAccess::None => "none",
            GpuAccess::Small => "small",
            GpuAccess::Medium => "medium",
            GpuAccess::Large => "large",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_matrix() {
        let table = [
            (Tier::Free, 10, GpuAccess::None, false, false),
            (Tier::Advanced, 50, GpuAccess::Small, false, false),
            (Tier::Premium, 200, GpuAccess::Large, false, false),
            (Tier::Tester, 100, GpuAccess::Medium, false, false),
            (Tier::Admin, 1_000, GpuAccess::Large, true, false),
            (Tier::Developer, 10_000, GpuAccess::Large, true, true),
        ];
        for (tier, rate, gpu, users, admin) in table {
            assert_eq!(tier.requests_per_hour(), rate, "{tier}");
            assert_eq!(tier.gpu(), gpu, "{tier}");
            assert_eq!(tier.manages_users(), users, "{tier}");
            assert_eq!(tier.controls_admin(), admin, "{tier}");
            assert_eq!(tier.as_str().parse::<Tier>(), Ok(tier));
        }
        assert!("root".parse::<Tier>().is_err());
        assert_eq!("Premium".parse::<Tier>(), Ok(Tier::Premium));
    }

    #[test]
    fn gpu_grants_bound_vram() {
        assert!(GpuAccess::None.allows(false, 0).is_ok());
        assert_eq!(
            GpuAccess::None.allows(true, 0).unwrap_err(),
            "the tier has no GPU access"
        );
        assert!(GpuAccess::Small.allows(true, 8192).is_ok());
        let err = GpuAccess::Small.allows(true, 16_000).unwrap_err();
        assert!(err.contains("small (up to 8192 MiB"), "{err}");
        assert!(GpuAccess::Medium.allows(true, 16_000).is_ok());
        assert!(GpuAccess::Medium.allows(true, 40_000).is_err());
        assert!(GpuAccess::Large.allows(true, 140_000).is_ok());
    }
}
