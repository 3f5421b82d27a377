<?php
/**
 * Plugin Name:       Related headlines
 * Description:       Similar stories and "read also" blocks from a related-headlines service: sends published posts to it and shows each post's related headlines with a block or the [related_headlines] shortcode.
 * Version:           0.1.0
 * Requires at least: 5.8
 * Requires PHP:      7.4
 * Author:            Related headlines
 * License:           GPL-2.0-or-later
 * License URI:       https://www.gnu.org/licenses/gpl-2.0.html
 * Text Domain:       related-headlines
 *
 * @package RelatedHeadlines
 */

defined( 'ABSPATH' ) || exit;

define( 'RELATED_HEADLINES_VERSION', '0.1.0' );
define( 'RELATED_HEADLINES_FILE', __FILE__ );
define( 'RELATED_HEADLINES_DIR', plugin_dir_path( __FILE__ ) );

// The pure parts (unit-tested without WordPress), then the WordPress glue.
require_once RELATED_HEADLINES_DIR . 'includes/class-article-mapper.php';
require_once RELATED_HEADLINES_DIR . 'includes/class-block-renderer.php';
require_once RELATED_HEADLINES_DIR . 'includes/class-service-client.php';
require_once RELATED_HEADLINES_DIR . 'includes/class-wp-transport.php';
require_once RELATED_HEADLINES_DIR . 'includes/class-settings.php';
require_once RELATED_HEADLINES_DIR . 'includes/class-sync.php';
require_once RELATED_HEADLINES_DIR . 'includes/class-display.php';
require_once RELATED_HEADLINES_DIR . 'includes/class-backfill.php';
require_once RELATED_HEADLINES_DIR . 'includes/class-plugin.php';

register_deactivation_hook( __FILE__, array( 'RelatedHeadlines\Plugin', 'deactivate' ) );
RelatedHeadlines\Plugin::boot();
