//! Reading the image lists the clouds' CLIs print: `aws ec2 describe-images`, `gcloud
//! compute images list --format=json` and `az vm image list -o json`. The shape is told by
//! the fields; anything else is refused with a message that says what was expected.

use customs_core::Platform;
use serde::Deserialize;
use serde_json::Value;

use super::time::parse_rfc3339;
use super::{Cloud, MachineImage, MachineImageError};

/// What a list held: its cloud, and each entry as an image or as why it could not be read.
#[derive(Debug)]
pub struct ImageList {
    /// The cloud whose list this is; `None` for an empty list.
    pub cloud: Option<Cloud>,
    /// One per entry, in list order. An entry that is not a usable image is an error
    /// (`image 3: …`), reported for that entry alone.
    pub entries: Vec<Result<MachineImage, String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AwsImage {
    image_id: Option<String>,
    name: Option<String>,
    owner_id: Option<String>,
    image_owner_alias: Option<String>,
    public: Option<bool>,
    creation_date: Option<String>,
    deprecation_time: Option<String>,
    architecture: Option<String>,
    platform: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GcpImage {
    name: Option<String>,
    self_link: Option<String>,
    creation_timestamp: Option<String>,
    family: Option<String>,
    architecture: Option<String>,
    deprecated: Option<GcpDeprecated>,
}

#[derive(Deserialize)]
struct GcpDeprecated {
    state: Option<String>,
}

#[derive(Deserialize)]
struct AzureImage {
    publisher: Option<String>,
    offer: Option<String>,
    sku: Option<String>,
    version: Option<String>,
    urn: Option<String>,
    architecture: Option<String>,
}

/// Parses a list. The whole input is refused when it is not JSON or not one of the three
/// shapes; a recognised list with a bad entry yields that entry as an error.
pub fn parse_list(bytes: &[u8]) -> Result<ImageList, MachineImageError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| MachineImageError::Json {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    let unknown = |why: &str| MachineImageError::UnknownShape(why.to_string());
    let items = match value {
        Value::Object(mut map) => match map.remove("Images") {
            Some(Value::Array(items)) => return Ok(read_all(Cloud::Aws, items)),
            Some(_) => return Err(unknown("its `Images` is not a list")),
            None => return Err(unknown("it is a JSON object without `Images`")),
        },
        Value::Array(items) => items,
        _ => return Err(unknown("it is neither a JSON object nor a list")),
    };
    let Some(first) = items.first() else {
        return Ok(ImageList {
            cloud: None,
            entries: Vec::new(),
        });
    };
    let Value::Object(first) = first else {
        return Err(unknown("its first entry is not a JSON object"));
    };
    let cloud = if first.contains_key("ImageId") {
        // `describe-images --query Images`
        Cloud::Aws
    } else if first.contains_key("selfLink")
        || first.get("kind") == Some(&Value::from("compute#image"))
    {
        Cloud::Gcp
    } else if first.contains_key("urn")
        || (first.contains_key("publisher") && first.contains_key("offer"))
    {
        Cloud::Azure
    } else {
        return Err(unknown(
            "its first entry has none of `ImageId` (AWS), `selfLink` (GCP) or `urn`/`publisher` (Azure)",
        ));
    };
    Ok(read_all(cloud, items))
}

fn read_all(cloud: Cloud, items: Vec<Value>) -> ImageList {
    let entries = items
        .into_iter()
        .enumerate()
        .map(|(i, v)| read_one(cloud, v).map_err(|e| format!("image {}: {e}", i + 1)))
        .collect();
    ImageList {
        cloud: Some(cloud),
        entries,
    }
}

fn required(field: &str, v: Option<String>) -> Result<String, String> {
    match v {
        Some(s) if !s.trim().is_empty() => Ok(s),
        _ => Err(format!("no `{field}`")),
    }
}

fn time(field: &str, v: Option<String>) -> Result<Option<i64>, String> {
    v.map(|t| parse_rfc3339(&t).map_err(|e| format!("`{field}`: {e}")))
        .transpose()
}

fn arch(a: &str) -> Option<&'static str> {
    match a.to_ascii_lowercase().as_str() {
        "x86_64" | "x64" | "amd64" | "x86_64_mac" => Some("amd64"),
        "arm64" | "aarch64" | "arm64_mac" => Some("arm64"),
        "i386" | "x86" => Some("386"),
        _ => None,
    }
}

fn platform(os: &str, architecture: Option<&str>) -> Option<Platform> {
    Some(Platform {
        os: os.into(),
        architecture: arch(architecture?)?.into(),
        variant: None,
    })
}

fn read_one(cloud: Cloud, v: Value) -> Result<MachineImage, String> {
    if !v.is_object() {
        return Err("not a JSON object".into());
    }
    match cloud {
        Cloud::Aws => {
            let a: AwsImage = serde_json::from_value(v).map_err(|e| e.to_string())?;
            let id = required("ImageId", a.image_id)?;
            let owner = required("OwnerId", a.owner_id)?;
            let created = required("CreationDate", a.creation_date)?;
            // AWS sets `Platform` only for Windows.
            let os = match a.platform.as_deref() {
                Some(p) if p.eq_ignore_ascii_case("windows") => "windows",
                _ => "linux",
            };
            Ok(MachineImage {
                cloud,
                name: a.name.unwrap_or_default(),
                owner,
                owner_alias: a.image_owner_alias.filter(|s| !s.is_empty()),
                public: a.public,
                created_unix: time("CreationDate", Some(created.clone()))?,
                created: Some(created),
                deprecated_unix: time("DeprecationTime", a.deprecation_time)?,
                deprecated_state: None,
                platform: platform(os, a.architecture.as_deref()),
                family: None,
                id,
            })
        }
        Cloud::Gcp => {
            let g: GcpImage = serde_json::from_value(v).map_err(|e| e.to_string())?;
            let name = required("name", g.name)?;
            let link = required("selfLink", g.self_link)?;
            let created = required("creationTimestamp", g.creation_timestamp)?;
            // …/compute/v1/projects/PROJECT/global/images/NAME
            let path = link
                .find("projects/")
                .map(|i| &link[i..])
                .filter(|p| p.split('/').count() == 5 && p.split('/').nth(2) == Some("global"))
                .ok_or_else(|| {
                    format!("`selfLink` `{link}` does not name projects/PROJECT/global/images/NAME")
                })?;
            let owner = path.split('/').nth(1).unwrap_or_default().to_string();
            if owner.is_empty() {
                return Err(format!("`selfLink` `{link}` names no project"));
            }
            let os = if owner.starts_with("windows-") {
                "windows"
            } else {
                "linux"
            };
            Ok(MachineImage {
                cloud,
                id: path.to_string(),
                name,
                owner,
                owner_alias: None,
                public: None,
                created_unix: time("creationTimestamp", Some(created.clone()))?,
                created: Some(created),
                deprecated_unix: None,
                deprecated_state: g.deprecated.and_then(|d| d.state).filter(|s| !s.is_empty()),
                platform: platform(os, g.architecture.as_deref()),
                family: g.family,
            })
        }
        Cloud::Azure => {
            let z: AzureImage = serde_json::from_value(v).map_err(|e| e.to_string())?;
            let publisher = required("publisher", z.publisher)?;
            let offer = required("offer", z.offer)?;
            let sku = required("sku", z.sku)?;
            let version = required("version", z.version)?;
            let urn = z
                .urn
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| format!("{publisher}:{offer}:{sku}:{version}"));
            let os = if publisher
                .to_ascii_lowercase()
                .starts_with("microsoftwindows")
            {
                "windows"
            } else {
                "linux"
            };
            Ok(MachineImage {
                cloud,
                id: urn,
                name: format!("{offer}:{sku}"),
                owner: publisher,
                owner_alias: None,
                // Marketplace images: anyone may deploy them.
                public: Some(true),
                created: None,
                created_unix: None,
                deprecated_unix: None,
                deprecated_state: None,
                platform: platform(os, z.architecture.as_deref()),
                family: None,
            })
        }
    }
}
