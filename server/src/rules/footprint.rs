//! What an uploaded rule needs from the instance pool (core instances, memories, tables) and
//! which toolchain built it, read from the binary's structure and producers sections.

use serde::Serialize;

use super::error::RuleError;

/// The source language a rule was written in, as far as its binary tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Rust,
    JavaScript,
    Python,
    Unknown,
}

impl Language {
    pub const ALL: [Language; 4] = [
        Language::Rust,
        Language::JavaScript,
        Language::Python,
        Language::Unknown,
    ];

    /// The stored name and the metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::JavaScript => "javascript",
            Language::Python => "python",
            Language::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Language {
        Language::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .unwrap_or(Language::Unknown)
    }
}

/// What one instance of the rule takes from the pool. Counted the way wasmtime instantiates a
/// component: every core module instantiation (nested components as often as they are
/// instantiated) with the memories and tables its module defines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Footprint {
    pub core_instances: u32,
    pub memories: u32,
    pub tables: u32,
}

impl Footprint {
    fn add(&mut self, other: Footprint) {
        self.core_instances = self.core_instances.saturating_add(other.core_instances);
        self.memories = self.memories.saturating_add(other.memories);
        self.tables = self.tables.saturating_add(other.tables);
    }
}

/// Who built the rule: the language and the tools named in its producers sections
/// (`processed-by` and `sdk`), e.g. `componentize-qjs 0.4.5`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Toolchain {
    pub language: Language,
    pub tools: Vec<String>,
}

impl Toolchain {
    /// `javascript (componentize-qjs 0.4.5, wit-component 0.258.0)`.
    pub fn describe(&self) -> String {
        if self.tools.is_empty() {
            self.language.as_str().to_owned()
        } else {
            format!("{} ({})", self.language.as_str(), self.tools.join(", "))
        }
    }
}

/// Names an interpreter's runtime leaves in the modules it links (import/export fields and
/// the name section) when the build added no producers entry of its own.
const RUNTIME_MARKS: [(&str, Language, &str); 3] = [
    (
        "componentize_qjs_runtime",
        Language::JavaScript,
        "componentize-qjs",
    ),
    (
        "componentize_py_runtime",
        Language::Python,
        "componentize-py",
    ),
    ("libpython3", Language::Python, "componentize-py"),
];

enum Frame {
    Module(Footprint),
    Component {
        modules: Vec<Footprint>,
        components: Vec<Footprint>,
        total: Footprint,
    },
}

fn invalid(e: wasmparser::BinaryReaderError) -> RuleError {
    RuleError::InvalidModule(e.to_string())
}

/// Reads a component's footprint and toolchain in one pass, without compiling it.
pub fn read(bytes: &[u8]) -> Result<(Footprint, Toolchain), RuleError> {
    use wasmparser::{
        ComponentAlias, ComponentExternalKind, ComponentInstance, ComponentOuterAliasKind,
        ComponentTypeRef, Encoding, Instance, KnownCustom, Name, Parser, Payload,
    };

    let mut stack: Vec<Frame> = Vec::new();
    let mut total = None;
    let mut languages: Vec<String> = Vec::new();
    let mut tools: Vec<String> = Vec::new();
    let mut outer_tools = 0;
    let mut marked: Option<(Language, &'static str)> = None;
    let mut mark = |name: &str| {
        if marked.is_none() {
            marked = RUNTIME_MARKS
                .iter()
                .find(|(m, ..)| name.contains(m))
                .map(|(_, l, t)| (*l, *t));
        }
    };
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(invalid)? {
            Payload::Version { encoding, .. } => stack.push(match encoding {
                Encoding::Module => Frame::Module(Footprint {
                    core_instances: 1,
                    ..Footprint::default()
                }),
                Encoding::Component => Frame::Component {
                    modules: Vec::new(),
                    components: Vec::new(),
                    total: Footprint::default(),
                },
            }),
            Payload::MemorySection(r) => {
                if let Some(Frame::Module(f)) = stack.last_mut() {
                    f.memories += r.count();
                }
            }
            Payload::TableSection(r) => {
                if let Some(Frame::Module(f)) = stack.last_mut() {
                    f.tables += r.count();
                }
            }
            Payload::ImportSection(r) => {
                for import in r.into_imports() {
                    let import = import.map_err(invalid)?;
                    mark(import.module);
                    mark(import.name);
                }
            }
            Payload::ExportSection(r) => {
                for export in r {
                    mark(export.map_err(invalid)?.name);
                }
            }
            Payload::ComponentImportSection(r) => {
                for import in r {
                    let import = import.map_err(invalid)?;
                    // An imported module or component is not instantiated from this binary;
                    // the import check refuses such rules anyway.
                    if let Some(Frame::Component {
                        modules,
                        components,
                        ..
                    }) = stack.last_mut()
                    {
                        match import.ty {
                            ComponentTypeRef::Module(_) => modules.push(Footprint::default()),
                            ComponentTypeRef::Component(_) => components.push(Footprint::default()),
                            _ => {}
                        }
                    }
                }
            }
            Payload::ComponentAliasSection(r) => {
                for alias in r {
                    let alias = alias.map_err(invalid)?;
                    let depth = stack.len();
                    let outer = |count: u32, index: u32, module: bool| -> Footprint {
                        let at = depth.checked_sub(1 + count as usize);
                        match at.map(|i| &stack[i]) {
                            Some(Frame::Component {
                                modules,
                                components,
                                ..
                            }) => {
                                let list = if module { modules } else { components };
                                list.get(index as usize).copied().unwrap_or_default()
                            }
                            _ => Footprint::default(),
                        }
                    };
                    let (is_module, footprint) = match alias {
                        ComponentAlias::Outer {
                            kind: ComponentOuterAliasKind::CoreModule,
                            count,
                            index,
                        } => (true, outer(count, index, true)),
                        ComponentAlias::Outer {
                            kind: ComponentOuterAliasKind::Component,
                            count,
                            index,
                        } => (false, outer(count, index, false)),
                        ComponentAlias::InstanceExport {
                            kind: ComponentExternalKind::Module,
                            ..
                        } => (true, Footprint::default()),
                        ComponentAlias::InstanceExport {
                            kind: ComponentExternalKind::Component,
                            ..
                        } => (false, Footprint::default()),
                        _ => continue,
                    };
                    if let Some(Frame::Component {
                        modules,
                        components,
                        ..
                    }) = stack.last_mut()
                    {
                        if is_module {
                            modules.push(footprint);
                        } else {
                            components.push(footprint);
                        }
                    }
                }
            }
            Payload::InstanceSection(r) => {
                for instance in r {
                    if let Instance::Instantiate { module_index, .. } = instance.map_err(invalid)?
                        && let Some(Frame::Component { modules, total, .. }) = stack.last_mut()
                    {
                        let f = modules.get(module_index as usize).copied();
                        total.add(f.unwrap_or_default());
                    }
                }
            }
            Payload::ComponentInstanceSection(r) => {
                for instance in r {
                    if let ComponentInstance::Instantiate {
                        component_index, ..
                    } = instance.map_err(invalid)?
                        && let Some(Frame::Component {
                            components, total, ..
                        }) = stack.last_mut()
                    {
                        let f = components.get(component_index as usize).copied();
                        total.add(f.unwrap_or_default());
                    }
                }
            }
            Payload::CustomSection(section) => match section.as_known() {
                KnownCustom::Producers(reader) => {
                    // The outermost component's own entry (the build that made the rule)
                    // is named first; its parts' entries follow.
                    let outermost = stack.len() == 1;
                    let at = if outermost { outer_tools } else { tools.len() };
                    let mut added = 0;
                    for field in reader {
                        let field = field.map_err(invalid)?;
                        for value in field.values {
                            let value = value.map_err(invalid)?;
                            match field.name {
                                "language" => languages.push(value.name.to_owned()),
                                "processed-by" | "sdk" => {
                                    let tool = if value.version.is_empty() {
                                        value.name.to_owned()
                                    } else {
                                        format!("{} {}", value.name, value.version)
                                    };
                                    if !tools.contains(&tool) {
                                        tools.insert(at + added, tool);
                                        added += 1;
                                    }
                                }
                                _ => {}
                            }
                        }
                    }
                    if outermost {
                        outer_tools += added;
                    }
                }
                KnownCustom::Name(reader) => {
                    for name in reader {
                        if let Ok(Name::Module { name, .. }) = name {
                            mark(name);
                        }
                    }
                }
                _ => {}
            },
            Payload::End(_) => {
                let (footprint, is_module) = match stack.pop() {
                    Some(Frame::Module(f)) => (f, true),
                    Some(Frame::Component { total, .. }) => (total, false),
                    None => return Err(RuleError::InvalidModule("unbalanced sections".into())),
                };
                match stack.last_mut() {
                    Some(Frame::Component {
                        modules,
                        components,
                        ..
                    }) => {
                        if is_module {
                            modules.push(footprint);
                        } else {
                            components.push(footprint);
                        }
                    }
                    _ => total = Some(footprint),
                }
            }
            _ => {}
        }
    }
    let footprint =
        total.ok_or_else(|| RuleError::InvalidModule("the binary ended early".into()))?;
    let language = language_of(&languages, &tools, marked.map(|(l, _)| l));
    if let Some((_, tool)) = marked
        && !tools.iter().any(|t| t.starts_with(tool))
    {
        tools.insert(outer_tools, tool.to_owned());
    }
    Ok((footprint, Toolchain { language, tools }))
}

/// A declared JavaScript/TypeScript or Python wins over the `Rust` an interpreter's own
/// runtime declares; the runtime's marks decide when nothing else is declared; rustc alone
/// (some builds record only `processed-by: rustc`) means Rust.
fn language_of(declared: &[String], tools: &[String], marked: Option<Language>) -> Language {
    let has = |names: &[&str]| {
        declared
            .iter()
            .any(|d| names.iter().any(|n| d.eq_ignore_ascii_case(n)))
    };
    if has(&["JavaScript", "TypeScript"]) {
        Language::JavaScript
    } else if has(&["Python"]) {
        Language::Python
    } else if let Some(l) = marked {
        l
    } else if has(&["Rust"]) || tools.iter().any(|t| t.starts_with("rustc")) {
        Language::Rust
    } else {
        Language::Unknown
    }
}
