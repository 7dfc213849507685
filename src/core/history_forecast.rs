//! Storage forecasts on the loop: every few minutes the trend points of each storage, PBS
//! datastore and guest disk are copied out of the rings (a few thousand short vectors), the
//! Theil–Sen fits run on the task pool, and the results come back as a message that writes
//! them into the state (`forecasts`: storages, datastores, guests with a full date; read by
//! `/metrics` too) and `History::forecasts` (every fit; read by `/api/charts`).

use crate::core::app::App;
use crate::core::event_loop::Msg;
use crate::history::forecast::{forecast, Forecast};
use crate::history::Kind;
use crate::state::store::ExtraArea;
use serde::Serialize;

/// How often trends are refreshed (they speak in days; minutes are plenty).
pub const FORECAST_EVERY_S: i64 = 300;
/// Until a refresh has had resources to fit, try this often (history loaded at start-up, first
/// polls). Not until forecasts exist: a new install has too few points for days, and copying
/// every guest's trend every 20 s meanwhile was a fifth of the loop's CPU.
const FIRST_FORECAST_EVERY_S: i64 = 20;

/// One entry of the state's `forecasts` list.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ForecastEntry {
    pub id: String,
    /// `"storage"` (PVE), `"datastore"` (PBS) or `"guest"` (the guest's disk).
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub name: String,
    pub instance: String,
    pub node: String,
    #[serde(flatten)]
    pub forecast: Forecast,
}

/// What a fit needs: identity and the points (unix ms, percent).
struct Input {
    id: String,
    kind: &'static str,
    name: String,
    instance: String,
    node: String,
    points: Vec<(i64, f64)>,
}

impl App {
    pub(crate) fn refresh_forecasts_if_due(&mut self, now_s: i64) {
        let every = if !self.history.forecasts_primed {
            FIRST_FORECAST_EVERY_S
        } else {
            FORECAST_EVERY_S
        };
        if now_s - self.history.last_forecast_s < every || self.history.resources.is_empty() {
            return;
        }
        self.history.last_forecast_s = now_s;
        let inputs = self.forecast_inputs(now_s);
        self.history.forecasts_primed = !inputs.is_empty();
        let handle = self.handle.clone();
        let job = Box::new(move || {
            let entries: Vec<ForecastEntry> = inputs
                .into_iter()
                .filter_map(|i| {
                    forecast(&i.points).map(|forecast| ForecastEntry {
                        id: i.id,
                        kind: i.kind,
                        name: i.name,
                        instance: i.instance,
                        node: i.node,
                        forecast,
                    })
                })
                .collect();
            handle.post(Msg::Apply(Box::new(move |app: &mut App| {
                app.apply_forecasts(entries)
            })));
        });
        if self.tasks.try_submit(job).is_err() {
            // A busy pool: try again at the next tick after the short interval.
            self.history.last_forecast_s = now_s - FORECAST_EVERY_S + FIRST_FORECAST_EVERY_S;
        }
    }

    /// The trend points of every resource a forecast is made for (copied on the loop).
    fn forecast_inputs(&self, now_s: i64) -> Vec<Input> {
        let h = &self.history;
        let st = self.polling.core.state();
        let mut out = Vec::new();
        let mut push =
            |id: &str, kind: &'static str, metric, name: &str, inst: &str, node: &str| {
                let want = match kind {
                    "guest" => Kind::Guest,
                    _ => Kind::Storage,
                };
                if h.resources.get(id).is_some_and(|r| r.kind == want) {
                    out.push(Input {
                        id: id.to_string(),
                        kind,
                        name: name.to_string(),
                        instance: inst.to_string(),
                        node: node.to_string(),
                        points: h.trend_points(id, metric, now_s),
                    });
                }
            };
        for s in st.storages() {
            push(&s.id, "storage", 0, &s.storage, &s.instance, &s.node);
        }
        for p in st.pbs_instances() {
            for d in &p.datastores {
                let id = crate::history::record::datastore_id(&p.id, &d.name);
                push(&id, "datastore", 0, &d.name, &p.name, "");
            }
        }
        for g in st.vms() {
            push(&g.id, "guest", 2, &g.name, &g.instance, &g.node);
        }
        for g in st.containers() {
            push(&g.id, "guest", 2, &g.name, &g.instance, &g.node);
        }
        out
    }

    /// The fits are back: into the history (charts, `/metrics`) and the state.
    pub fn apply_forecasts(&mut self, entries: Vec<ForecastEntry>) {
        self.history.forecasts = entries
            .iter()
            .map(|e| (e.id.as_str().into(), e.forecast.clone()))
            .collect();
        // Every storage and datastore, but only the guests whose disk has a full date: a flat
        // guest disk is the common case, and 3,000 of them would add most of a megabyte to
        // every state document. `/api/charts` has them all.
        let values = entries
            .iter()
            .filter(|e| e.kind != "guest" || e.forecast.days_until_full.is_some())
            .filter_map(|e| serde_json::to_value(e).ok())
            .collect();
        self.polling
            .core
            .state_mut()
            .set_extra(ExtraArea::Forecasts, values);
    }
}
