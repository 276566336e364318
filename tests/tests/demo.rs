//! `verdict demo` plays its whole story (install, import, auto-ticketing, four triage outcomes)
//! and ends as expected; it fails when any finding ends differently.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_story_ends_as_expected() {
    verdict_server::demo::run().await.expect("the demo story");
}
