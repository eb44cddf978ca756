//! `cortex extension pack`: the browser extension (Manifest V3, `extension/` in the
//! repository, embedded in the binary) as a zip for a private Chrome Web Store listing or an
//! enterprise policy install, built for one Cortex: its host permission is that origin's
//! `/api/v1/*` and nothing else, and its settings default to that URL.

use std::io::Write;

use zip::write::SimpleFileOptions;

/// The extension's files as in `extension/`.
const FILES: &[(&str, &[u8])] = &[
    (
        "manifest.json",
        include_bytes!("../../extension/manifest.json"),
    ),
    ("config.json", include_bytes!("../../extension/config.json")),
    (
        "background.js",
        include_bytes!("../../extension/background.js"),
    ),
    ("common.js", include_bytes!("../../extension/common.js")),
    ("popup.html", include_bytes!("../../extension/popup.html")),
    ("popup.js", include_bytes!("../../extension/popup.js")),
    ("popup.css", include_bytes!("../../extension/popup.css")),
    (
        "options.html",
        include_bytes!("../../extension/options.html"),
    ),
    ("options.js", include_bytes!("../../extension/options.js")),
];

/// Why the extension could not be packed.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("{0:?} is not an origin like https://cortex.example.com (scheme, host and port only)")]
    Origin(String),
    #[error("extension/{0} is not valid JSON: {1}")]
    Json(&'static str, serde_json::Error),
    #[error("writing the zip failed: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("writing the zip failed: {0}")]
    Io(#[from] std::io::Error),
}

/// `https://host[:port]` from a URL with no path beyond `/`, or an error.
pub fn origin(url: &str) -> Result<String, PackError> {
    let url = url.trim().trim_end_matches('/');
    let bad = || PackError::Origin(url.to_string());
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    if !(scheme == "https" || scheme == "http")
        || rest.is_empty()
        || rest.contains(['/', '?', '#', '@', ' ', '*'])
    {
        return Err(bad());
    }
    Ok(format!("{scheme}://{rest}"))
}

/// The extension's files for the Cortex at `origin`: the manifest's host permission and
/// the default URL point there.
pub fn files(origin: &str) -> Result<Vec<(&'static str, Vec<u8>)>, PackError> {
    let mut out = Vec::new();
    for (name, bytes) in FILES {
        let data = match *name {
            "manifest.json" => {
                let mut m: serde_json::Value =
                    serde_json::from_slice(bytes).map_err(|e| PackError::Json(name, e))?;
                m["host_permissions"] = serde_json::json!([format!("{origin}/api/v1/*")]);
                serde_json::to_vec_pretty(&m).map_err(|e| PackError::Json(name, e))?
            }
            "config.json" => serde_json::to_vec_pretty(&serde_json::json!({ "url": origin }))
                .map_err(|e| PackError::Json(name, e))?,
            _ => bytes.to_vec(),
        };
        out.push((*name, data));
    }
    Ok(out)
}

/// The zip of [`files`]: deflated, with fixed timestamps (the same input gives the same
/// bytes).
pub fn pack(origin: &str) -> Result<Vec<u8>, PackError> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644);
    for (name, data) in files(origin)? {
        w.start_file(name, opts)?;
        w.write_all(&data)?;
    }
    Ok(w.finish()?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_host_and_port_only() {
        assert_eq!(
            origin("https://cortex.example.com/").expect("ok"),
            "https://cortex.example.com"
        );
        assert_eq!(
            origin("http://127.0.0.1:8080").expect("ok"),
            "http://127.0.0.1:8080"
        );
        for bad in [
            "cortex.example.com",
            "ftp://x",
            "https://x/app",
            "https://*.x",
            "https://",
        ] {
            assert!(origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_manifest_asks_only_for_the_cortex_api() {
        let f = files("https://cortex.example.com").expect("files");
        let manifest: serde_json::Value =
            serde_json::from_slice(&f.iter().find(|(n, _)| *n == "manifest.json").expect("m").1)
                .expect("json");
        assert_eq!(manifest["manifest_version"], 3);
        assert_eq!(
            manifest["host_permissions"],
            serde_json::json!(["https://cortex.example.com/api/v1/*"])
        );
        assert_eq!(
            manifest["permissions"],
            serde_json::json!(["storage", "contextMenus"])
        );
        assert_eq!(
            pack("https://a.example").expect("zip"),
            pack("https://a.example").expect("zip")
        );
    }
}
