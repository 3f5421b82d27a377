<?php
/**
 * Wires the plugin's parts into WordPress.
 *
 * @package RelatedHeadlines
 */

namespace RelatedHeadlines;

defined( 'ABSPATH' ) || exit;

/**
 * The plugin.
 */
final class Plugin {

	/**
	 * Hooks every part.
	 */
	public static function boot() {
		( new Settings() )->register();
		( new Sync() )->register();
		( new Display() )->register();
		( new Backfill() )->register();
	}

	/**
	 * A client of the configured service, sending through WordPress's HTTP API.
	 *
	 * @return Service_Client
	 */
	public static function client() {
		$settings = Settings::get();
		return new Service_Client( $settings['service_url'], $settings['api_key'], new WP_Transport() );
	}

	/**
	 * On deactivation: no retry or backfill left scheduled.
	 */
	public static function deactivate() {
		wp_unschedule_hook( Sync::RETRY_HOOK );
		wp_unschedule_hook( Backfill::HOOK );
	}
}
