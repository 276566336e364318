//! `verdict demo` plays its whole story (install, import, auto-ticketing, four triage outcomes)
//! and ends as expected, installed as the Forge app (the default) and as a Connect app; it
//! fails when any finding ends differently.

use verdict_server::demo::InstallAs;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_story_ends_as_expected_as_a_forge_app() {
    verdict_server::demo::run(InstallAs::Forge)
        .await
        .expect("the demo story");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_story_ends_as_expected_as_a_connect_app() {
    verdict_server::demo::run(InstallAs::Connect)
        .await
        .expect("the demo story");
}
