//! Usage location: an ISO 3166-1 alpha-2 country code, parsed once.

use serde::{Deserialize, Serialize};

const CODES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UsageLocation([u8; 2]);

impl UsageLocation {
    /// Accepts a two-letter ISO 3166-1 code in any case ("dk", "DK").
    pub fn parse(s: &str) -> Result<Self, String> {
        let up = s.trim().to_ascii_uppercase();
        if up.len() == 2
            && up.bytes().all(|b| b.is_ascii_uppercase())
            && CODES.split(' ').any(|c| c == up)
        {
            let b = up.as_bytes();
            Ok(Self([b[0], b[1]]))
        } else {
            Err(format!(
                "'{s}' is not a country code: use a two-letter ISO 3166-1 code such as \"US\", \"DK\" or \"SE\""
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        // Both bytes are ASCII uppercase letters by construction.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl std::fmt::Display for UsageLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for UsageLocation {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl From<UsageLocation> for String {
    fn from(u: UsageLocation) -> String {
        u.as_str().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_codes_only() {
        assert_eq!(UsageLocation::parse("dk").unwrap().as_str(), "DK");
        assert!(UsageLocation::parse("XX").is_err());
        assert!(UsageLocation::parse("DNK").is_err());
        assert!(UsageLocation::parse("").is_err());
        assert!(UsageLocation::parse("'; drop table users;--").is_err());
    }
}
