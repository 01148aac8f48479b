// SPDX-License-Identifier: MIT
//! The hotdoc plugin cache, `docs/plugins/gst_plugins_cache.json`, as GStreamer's
//! `gst-hotdoc-plugins-scanner` + `gst-plugins-doc-cache-generator.py` write it for
//! gst-plugins-rs (neither tool ships in Debian's GStreamer packages, so this test renders the
//! same format from the registered plugin: sorted keys, 4-space indent, no trailing newline;
//! defaults read from a fresh instance; `guint` printed signed, `gint64` defaults unsigned,
//! doubles as C `%g`; `%` doubled; only each type's own properties; plugin-API types under
//! `other-types`; the elements declare no signals of their own, so none are rendered).
//!
//! The test fails when the committed cache differs from a fresh rendering (a property, blurb,
//! default, pad template or enum changed without the docs); `TCVC_UPDATE_DOCS_CACHE=1` (or
//! `meson compile -C build update-docs-cache` with `-Ddoc=enabled`) writes it.
mod common;

use gst::glib;
use gst::prelude::*;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

const PLUGIN: &str = "tcvc";

/// C's `%g` (6 significant digits, trailing zeros removed, exponent form outside 1e-4..1e6).
fn c_g(v: f64) -> String {
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.into();
    }
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.into();
    }
    let e = format!("{v:.5e}"); // d.ddddde±x, 6 significant digits
    let (mantissa, exp) = e.split_once('e').unwrap();
    let exp: i32 = exp.parse().unwrap();
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa), exp.abs())
    } else {
        let decimals = (5 - exp).max(0) as usize;
        trim(&format!("{v:.decimals$}"))
    }
}

fn esc(s: &str) -> String {
    s.replace('%', "%%")
}

fn type_name(t: glib::Type) -> String {
    t.name().to_string()
}

fn hierarchy(t: glib::Type) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cur = Some(t);
    while let Some(c) = cur {
        out.push(json!(type_name(c)));
        if c == glib::Type::OBJECT {
            break;
        }
        cur = c.parent();
    }
    out
}

/// The default, min and max of a property as the scanner renders them.
fn values(pspec: &glib::ParamSpec, value: &glib::Value, entry: &mut Map<String, Value>) {
    let t = pspec.value_type();
    let mut put = |k: &str, v: String| {
        entry.insert(k.into(), json!(v));
    };
    if t == glib::Type::STRING {
        put(
            "default",
            value
                .get::<Option<String>>()
                .unwrap()
                .map_or("NULL".into(), |s| esc(&s)),
        );
    } else if t == glib::Type::BOOL {
        put("default", value.get::<bool>().unwrap().to_string());
    } else if let Some(p) = pspec.downcast_ref::<glib::ParamSpecUInt>() {
        put("default", (value.get::<u32>().unwrap() as i32).to_string());
        put("min", (p.minimum() as i32).to_string());
        put("max", (p.maximum() as i32).to_string());
    } else if let Some(p) = pspec.downcast_ref::<glib::ParamSpecInt>() {
        put("default", value.get::<i32>().unwrap().to_string());
        put("min", p.minimum().to_string());
        put("max", p.maximum().to_string());
    } else if let Some(p) = pspec.downcast_ref::<glib::ParamSpecInt64>() {
        put("default", (value.get::<i64>().unwrap() as u64).to_string());
        put("min", p.minimum().to_string());
        put("max", p.maximum().to_string());
    } else if let Some(p) = pspec.downcast_ref::<glib::ParamSpecUInt64>() {
        put("default", value.get::<u64>().unwrap().to_string());
        put("min", p.minimum().to_string());
        put("max", p.maximum().to_string());
    } else if let Some(p) = pspec.downcast_ref::<glib::ParamSpecDouble>() {
        put("default", c_g(value.get::<f64>().unwrap()));
        put("min", c_g(p.minimum()));
        put("max", c_g(p.maximum()));
    } else if let Some(p) = pspec.downcast_ref::<glib::ParamSpecFloat>() {
        put("default", c_g(value.get::<f32>().unwrap() as f64));
        put("min", c_g(p.minimum() as f64));
        put("max", c_g(p.maximum() as f64));
    } else if t.is_a(glib::Type::ENUM) {
        let class = glib::EnumClass::with_type(t).unwrap();
        let v = glib::EnumValue::from_value(value).unwrap().1;
        let nick = class.value(v.value()).map_or("", |e| e.nick());
        put("default", format!("{} ({})", esc(nick), v.value()));
    } else {
        panic!(
            "property {} of type {}: teach tests/docs_cache.rs how the scanner renders it",
            pspec.name(),
            t.name()
        );
    }
}

/// The properties `owner` itself declares, with defaults read from `instance`.
fn properties(owner: glib::Type, instance: &glib::Object) -> Map<String, Value> {
    let mut props = Map::new();
    for pspec in instance.list_properties().iter() {
        if pspec.owner_type() != owner {
            continue;
        }
        let f = pspec.flags();
        let mutable = if f.contains(gst::PARAM_FLAG_MUTABLE_PLAYING) {
            "playing"
        } else if f.contains(gst::PARAM_FLAG_MUTABLE_PAUSED) {
            "paused"
        } else if f.contains(gst::PARAM_FLAG_MUTABLE_READY) {
            "ready"
        } else {
            "null"
        };
        let mut e = Map::new();
        e.insert("blurb".into(), json!(esc(pspec.blurb().unwrap_or(""))));
        e.insert(
            "conditionally-available".into(),
            json!(f.contains(gst::PARAM_FLAG_CONDITIONALLY_AVAILABLE)),
        );
        e.insert(
            "construct".into(),
            json!(f.contains(glib::ParamFlags::CONSTRUCT)),
        );
        e.insert(
            "construct-only".into(),
            json!(f.contains(glib::ParamFlags::CONSTRUCT_ONLY)),
        );
        e.insert(
            "controllable".into(),
            json!(f.contains(gst::PARAM_FLAG_CONTROLLABLE)),
        );
        e.insert("mutable".into(), json!(mutable));
        e.insert(
            "readable".into(),
            json!(f.contains(glib::ParamFlags::READABLE)),
        );
        e.insert("type".into(), json!(type_name(pspec.value_type())));
        e.insert(
            "writable".into(),
            json!(f.contains(glib::ParamFlags::WRITABLE)),
        );
        let value = if f.contains(glib::ParamFlags::READABLE)
            && !f.contains(gst::PARAM_FLAG_DOC_SHOW_DEFAULT)
        {
            instance.property_value(pspec.name())
        } else {
            pspec.default_value().clone()
        };
        values(pspec, &value, &mut e);
        props.insert(pspec.name().to_string(), Value::Object(e));
    }
    props
}

/// `_build_caps` of the scanner.
fn caps_text(caps: &gst::Caps) -> String {
    if caps.is_any() {
        return "ANY".into();
    }
    if caps.is_empty() {
        return "EMPTY".into();
    }
    let mut s = String::new();
    for (i, (st, features)) in caps.iter_with_features().enumerate() {
        let f = features.to_string();
        if features.is_any() || !(f.is_empty() || f == "memory:SystemMemory") {
            if i > 0 {
                s.push('\n');
            }
            s.push_str(&format!("{}({features}):\n", st.name()));
        } else {
            s.push_str(&format!("{}:\n", st.name()));
        }
        for (field, value) in st.iter() {
            let mut v = value.serialize().unwrap().to_string();
            if field == "format" || field == "rate" {
                v = v.replace("(string)", "").replace("(rate)", "");
            }
            let field = field.to_string();
            s.push_str(&format!("{field:>15}: {v}\n"));
        }
    }
    esc(&s)
}

fn enum_entry(t: glib::Type) -> Value {
    let class = glib::EnumClass::with_type(t).unwrap();
    let values: Vec<Value> = class
        .values()
        .iter()
        .map(|v| {
            json!({"desc": esc(v.name()), "name": esc(v.nick()), "value": v.value().to_string()})
        })
        .collect();
    json!({"kind": "enum", "values": values})
}

fn render() -> String {
    common::init();
    let registry = gst::Registry::get();
    let plugin = registry
        .find_plugin(PLUGIN)
        .expect("the plugin is registered");
    let mut elements = Map::new();
    let mut api_types: BTreeSet<(String, glib::Type)> = BTreeSet::new();
    let mut instances: Vec<(glib::Type, gst::Element)> = Vec::new();
    for feature in registry.features_by_plugin(PLUGIN) {
        let Ok(factory) = feature.downcast::<gst::ElementFactory>() else {
            continue;
        };
        let t = factory.element_type();
        let element = factory.create().build().unwrap();
        let mut e = Map::new();
        let rank = match factory.rank() {
            gst::Rank::NONE => "none",
            gst::Rank::MARGINAL => "marginal",
            gst::Rank::SECONDARY => "secondary",
            gst::Rank::PRIMARY => "primary",
            r => panic!("rank {r:?}: render it as the scanner does"),
        };
        e.insert("rank".into(), json!(rank));
        for key in factory.metadata_keys() {
            // The scanner leaves "long-name" out (it varies with the environment).
            if key == "long-name" {
                continue;
            }
            e.insert(
                key.to_string(),
                json!(esc(factory.metadata(&key).unwrap_or(""))),
            );
        }
        let h = hierarchy(t);
        let mut c = t.parent();
        while let Some(p) = c {
            if p.plugin_api_flags().is_some() {
                api_types.insert((type_name(p), p));
            }
            c = p.parent();
        }
        e.insert("hierarchy".into(), Value::Array(h));
        let ifaces: Vec<Value> = t
            .interfaces()
            .iter()
            .map(|i| json!(type_name(*i)))
            .collect();
        if !ifaces.is_empty() {
            e.insert("interfaces".into(), Value::Array(ifaces));
        }
        let mut pads = Map::new();
        for tmpl in factory.static_pad_templates() {
            let tmpl = tmpl.get();
            let direction = match tmpl.direction() {
                gst::PadDirection::Src => "src",
                gst::PadDirection::Sink => "sink",
                _ => "unknown",
            };
            let presence = match tmpl.presence() {
                gst::PadPresence::Always => "always",
                gst::PadPresence::Sometimes => "sometimes",
                gst::PadPresence::Request => "request",
            };
            let mut p = Map::new();
            p.insert("caps".into(), json!(caps_text(tmpl.documentation_caps())));
            p.insert("direction".into(), json!(direction));
            p.insert("presence".into(), json!(presence));
            let gt = tmpl.gtype();
            if gt != glib::Type::INVALID && gt != glib::Type::UNIT && gt != gst::Pad::static_type()
            {
                p.insert("type".into(), json!(type_name(gt)));
            }
            pads.insert(esc(tmpl.name_template()), Value::Object(p));
        }
        if !pads.is_empty() {
            e.insert("pad-templates".into(), Value::Object(pads));
        }
        let props = properties(t, element.upcast_ref());
        for pspec in element.list_properties().iter() {
            let vt = pspec.value_type();
            if vt.plugin_api_flags().is_some() {
                api_types.insert((type_name(vt), vt));
            }
        }
        if !props.is_empty() {
            e.insert("properties".into(), Value::Object(props));
        }
        elements.insert(factory.name().to_string(), Value::Object(e));
        instances.push((t, element));
    }
    let mut other = Map::new();
    // Types reached only through a plugin-API object's own properties.
    let mut queue: Vec<(String, glib::Type)> = api_types.iter().cloned().collect();
    while let Some((name, t)) = queue.pop() {
        if other.contains_key(&name) {
            continue;
        }
        if t.is_a(glib::Type::ENUM) {
            other.insert(name, enum_entry(t));
        } else if t.is_a(glib::Type::OBJECT) {
            let (_, instance) = instances
                .iter()
                .find(|(et, _)| et.is_a(t))
                .expect("an element of the plugin derives from the plugin-API class");
            let props = properties(t, instance.upcast_ref());
            for pspec in instance.list_properties().iter() {
                let vt = pspec.value_type();
                if pspec.owner_type() == t && vt.plugin_api_flags().is_some() {
                    queue.push((type_name(vt), vt));
                }
            }
            let mut o = Map::new();
            o.insert("hierarchy".into(), Value::Array(hierarchy(t)));
            let ifaces: Vec<Value> = t
                .interfaces()
                .iter()
                .map(|i| json!(type_name(*i)))
                .collect();
            if !ifaces.is_empty() {
                o.insert("interfaces".into(), Value::Array(ifaces));
            }
            o.insert("kind".into(), json!("object"));
            if !props.is_empty() {
                o.insert("properties".into(), Value::Object(props));
            }
            other.insert(name, Value::Object(o));
        } else {
            panic!("plugin-API type {name}: render it as the scanner does");
        }
    }
    let entry = json!({
        "description": plugin.description().to_string(),
        "elements": elements,
        "filename": "gsttcvc",
        "license": plugin.license().to_string(),
        "other-types": other,
        "package": plugin.package().to_string(),
        "source": plugin.source().to_string(),
        "tracers": {},
        "url": plugin.origin().to_string(),
    });
    let doc = json!({ PLUGIN: entry });
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    serde::Serialize::serialize(&doc, &mut ser).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn c_g_matches_printf() {
    for (v, s) in [
        (0.12, "0.12"),
        (7.0, "7"),
        (1e6, "1e+06"),
        (-24.0, "-24"),
        (0.5, "0.5"),
        (1.0, "1"),
        (123456.7, "123457"),
        (0.0001, "0.0001"),
        (0.00001234, "1.234e-05"),
        (f64::MAX, "1.79769e+308"),
    ] {
        assert_eq!(c_g(v), s, "{v}");
    }
}

#[test]
fn the_committed_docs_cache_is_current() {
    let fresh = render();
    let path = common::root().join("docs/plugins/gst_plugins_cache.json");
    if std::env::var_os("TCVC_UPDATE_DOCS_CACHE").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &fresh).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "{} is not what the plugin documents now; regenerate it with \
         `TCVC_UPDATE_DOCS_CACHE=1 cargo test --release --test docs_cache` and commit it",
        path.display()
    );
}
