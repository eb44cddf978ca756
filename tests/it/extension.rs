//! The browser extension, packed by `cortex extension pack` and loaded into headless
//! Chromium (new headless mode, `--load-extension`) against a running `cortex serve`
//! router: the options page stores the URL and token, the popup asks a question and shows
//! the answer's sections with the permalink, and the last answers are listed.

use std::io::Read;
use std::process::Command;

use reqwest::Method;
use serde_json::{json, Value as Json};
use sha2::{Digest, Sha256};

use crate::api::{api_site_for, token, DANA};
use crate::helpers::{cortex_bin, demo_sql, project_dir};
use crate::outputs::start_driver_with;

/// The id Chromium gives an unpacked extension: the SHA-256 of its absolute path, first
/// 16 bytes, each hex digit written as a letter from `a`.
fn unpacked_id(dir: &std::path::Path) -> String {
    let h = Sha256::digest(dir.to_string_lossy().as_bytes());
    h[..16]
        .iter()
        .flat_map(|b| [b >> 4, b & 0xf])
        .map(|n| char::from(b'a' + n))
        .collect()
}

/// Packs the extension for `origin` with the CLI and unzips it into `dir`.
fn pack_and_unzip(origin: &str, dir: &std::path::Path) -> Json {
    let zip_path = dir.join("cortex.zip");
    let out = Command::new(cortex_bin())
        .args(["extension", "pack", "--url", origin, "--out"])
        .arg(&zip_path)
        .arg("--project")
        .arg(project_dir())
        .output()
        .expect("cortex extension pack");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let unpacked = dir.join("ext");
    std::fs::create_dir_all(&unpacked).expect("dir");
    let mut zip =
        zip::ZipArchive::new(std::fs::File::open(&zip_path).expect("zip")).expect("a zip");
    let mut names = Vec::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).expect("entry");
        let name = f.name().expect("a UTF-8 name").to_string();
        assert!(
            !name.contains(['/', '\\']) && !name.starts_with('.'),
            "{name}"
        );
        let mut data = Vec::new();
        f.read_to_end(&mut data).expect("read");
        std::fs::write(unpacked.join(&name), data).expect("write");
        names.push(name);
    }
    for needed in [
        "manifest.json",
        "popup.html",
        "popup.js",
        "common.js",
        "options.html",
        "background.js",
    ] {
        assert!(
            names.iter().any(|n| n == needed),
            "{needed} missing: {names:?}"
        );
    }
    serde_json::from_slice(&std::fs::read(unpacked.join("manifest.json")).expect("manifest"))
        .expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_extension_popup_asks_cortex_in_headless_chromium() {
    // The unpacked extension's id follows from its path, so the site can allow its origin
    // (and only it) before the extension is packed for the site's URL.
    let tmp = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(tmp.path().join("ext")).expect("dir");
    let ext = tmp.path().join("ext").canonicalize().expect("path");
    let origin = format!("chrome-extension://{}", unpacked_id(&ext));
    let site = api_site_for(1000, &origin).await;
    let (_, dana) = token(&site, DANA);
    let manifest = pack_and_unzip(&site.url, tmp.path());
    assert_eq!(manifest["manifest_version"], 3);
    assert_eq!(
        manifest["host_permissions"],
        json!([format!("{}/api/v1/*", site.url)]),
        "the only host it may reach is this Cortex's API"
    );
    let Some(d) = start_driver_with(&[
        "--headless=new".to_string(),
        format!("--load-extension={}", ext.display()),
        format!("--disable-extensions-except={}", ext.display()),
    ])
    .await
    else {
        return;
    };
    let base = origin;
    let set_value = |el: String, text: String| {
        let d = &d;
        async move {
            d.cmd(Method::POST, &format!("/element/{el}/clear"), json!({}))
                .await;
            d.cmd(
                Method::POST,
                &format!("/element/{el}/value"),
                json!({ "text": text }),
            )
            .await;
        }
    };
    let click = |el: String| {
        let d = &d;
        async move {
            d.cmd(Method::POST, &format!("/element/{el}/click"), json!({}))
                .await;
        }
    };

    // Settings: the URL defaults to the Cortex the package was built for; the token is
    // stored in chrome.storage.
    d.go(&format!("{base}/options.html")).await;
    d.find("#settings[data-loaded]")
        .await
        .expect("the options page loads its settings");
    let url_input = d.find("#url").await.expect("the URL field");
    let shown = d
        .cmd(
            Method::GET,
            &format!("/element/{url_input}/property/value"),
            Json::Null,
        )
        .await;
    assert_eq!(shown, json!(site.url), "the packed default URL");
    set_value(d.find("#token").await.expect("token field"), dana.clone()).await;
    click(d.find("#settings button").await.expect("save")).await;
    assert!(d.find("#saved:not(:empty)").await.is_some(), "saved");

    // The popup asks and shows the answer as on the web page, with its permalink.
    d.go(&format!("{base}/popup.html")).await;
    set_value(
        d.find("#q").await.expect("ask box"),
        "What's our ARR by segment?".into(),
    )
    .await;
    click(d.find("#go").await.expect("ask button")).await;
    let Some(_) = d.find("article.answer[data-status=answered]").await else {
        d.screenshot("extension-popup").await;
        panic!("no answer shown: {}", d.source().await);
    };
    let page = d.source().await;
    assert!(page.contains("class=\"headline\""), "{page}");
    // Every segment of the oracle's result is a row of the answer's table.
    let segments = demo_sql("SELECT DISTINCT segment FROM merchants ORDER BY 1");
    for s in segments.as_array().expect("rows") {
        let s = s[0].as_str().expect("segment");
        assert!(
            page.contains(&format!("<td>{s}</td>")),
            "segment {s} missing"
        );
    }
    let link = d
        .find("a.permalink")
        .await
        .expect("a link to the full answer");
    let href = d
        .cmd(
            Method::GET,
            &format!("/element/{link}/attribute/href"),
            Json::Null,
        )
        .await;
    let href = href.as_str().expect("href");
    assert!(href.starts_with(&format!("{}/a/", site.url)), "{href}");
    // That answer was recorded under Dana's token and is hers to read back.
    let id = href.rsplit('/').next().expect("id");
    let back = site
        .http
        .get(format!("{}/api/v1/answers/{id}", site.url))
        .bearer_auth(&dana)
        .send()
        .await
        .expect("get");
    assert_eq!(back.status(), 200);

    // Reopened, the popup lists it among the last answers; a question passed by the
    // context menu (?q=) is pre-filled.
    d.go(&format!(
        "{base}/popup.html?q={}",
        "Give%20me%20the%20full%20picture%20of%20Blue%20Fox%20Goods"
    ))
    .await;
    let item = d.find("#history li a").await.expect("last answers");
    let text = d
        .cmd(Method::GET, &format!("/element/{item}/text"), Json::Null)
        .await;
    assert_eq!(text, json!("What's our ARR by segment?"));
    let q = d.find("#q").await.expect("ask box");
    let prefilled = d
        .cmd(
            Method::GET,
            &format!("/element/{q}/property/value"),
            Json::Null,
        )
        .await;
    assert_eq!(
        prefilled,
        json!("Give me the full picture of Blue Fox Goods")
    );
}
