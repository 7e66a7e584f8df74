//! The Responses API's answer, parsed tolerantly: every output item is decoded on its own and
//! unknown item, content and annotation types are skipped, so a new item type from OpenAI never
//! breaks the tool.

use serde::Deserialize;
use serde_json::Value;

use crate::openai::{Citation, SearchAnswer, UpstreamError};

#[derive(Deserialize)]
struct ResponseBody {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    output: Vec<Value>,
    #[serde(default)]
    error: Option<Value>,
    #[serde(default)]
    incomplete_details: Option<Value>,
}

#[derive(Deserialize)]
#[serde(tag = "type")]
enum OutputItem {
    #[serde(rename = "message")]
    Message {
        #[serde(default)]
        content: Vec<Value>,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
#[serde(tag = "type")]
enum ContentPart {
    #[serde(rename = "output_text")]
    OutputText {
        text: String,
        #[serde(default)]
        annotations: Vec<Value>,
    },
    #[serde(rename = "refusal")]
    Refusal { refusal: String },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
#[serde(tag = "type")]
enum Annotation {
    #[serde(rename = "url_citation")]
    UrlCitation {
        url: String,
        #[serde(default)]
        title: Option<String>,
    },
    #[serde(other)]
    Other,
}

/// Extracts the answer and its citations from a Responses API body.
pub fn parse_response(bytes: &[u8]) -> Result<SearchAnswer, UpstreamError> {
    let body: ResponseBody = serde_json::from_slice(bytes)
        .map_err(|e| UpstreamError::InvalidResponse(format!("{e}")))?;
    let mut texts: Vec<String> = Vec::new();
    let mut refusal: Option<String> = None;
    let mut citations: Vec<Citation> = Vec::new();
    for item in body.output {
        let Ok(OutputItem::Message { content }) = serde_json::from_value(item) else {
            continue;
        };
        for part in content {
            match serde_json::from_value(part) {
                Ok(ContentPart::OutputText { text, annotations }) => {
                    for annotation in annotations {
                        if let Ok(Annotation::UrlCitation { url, title }) =
                            serde_json::from_value(annotation)
                            && !citations.iter().any(|c| c.url == url)
                        {
                            citations.push(Citation {
                                url,
                                title: title.unwrap_or_default(),
                            });
                        }
                    }
                    texts.push(text);
                }
                Ok(ContentPart::Refusal { refusal: r }) => refusal = Some(r),
                Ok(ContentPart::Other) | Err(_) => {}
            }
        }
    }
    let answer = texts.join("\n\n");
    if !answer.trim().is_empty() {
        return Ok(SearchAnswer { answer, citations });
    }
    if let Some(refusal) = refusal {
        return Err(UpstreamError::Refusal(refusal));
    }
    let mut why = format!("status: {}", body.status.as_deref().unwrap_or("unknown"));
    if let Some(details) = body.incomplete_details.filter(|d| !d.is_null()) {
        why.push_str(&format!(", incomplete_details: {details}"));
    }
    if let Some(error) = body.error.filter(|e| !e.is_null()) {
        why.push_str(&format!(", error: {error}"));
    }
    Err(UpstreamError::NoMessage(why))
}
